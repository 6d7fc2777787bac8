/** Checksums and config hashes used by every manifest. */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';

/** sha256 hex of a byte buffer. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 hex of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)) {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    }
    return v;
  });
}

/** Short stable hash of a config-like value (first 16 hex of sha256 of canonical JSON). */
export function configHash(value: unknown): string {
  return sha256(canonicalJson(value)).slice(0, 16);
}

/** Cheap identity of an input file: size and mtime (the checksum is taken while reading). */
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

export function stampFile(path: string): FileStamp {
  const st = statSync(path);
  return { path, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
}
