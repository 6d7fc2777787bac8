/**
 * Crash-safe file writes: write under a temporary name in the same directory,
 * fsync, rename over the final name, fsync the directory. A reader never sees
 * a half-written file under the final name.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { open, rename, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Temporary sibling name for `path`; unique per process. */
export function tmpName(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}`);
}

/** fsync a directory so a rename inside it is durable. No-op where unsupported. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Write `data` to `path` atomically (sync version). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tmpName(path);
  try {
    writeFileSynced(tmp, data);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Write `data` to `path` atomically. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tmpName(path);
  await writeFileSyncedAsync(tmp, data);
  await rename(tmp, path);
  fsyncDir(dirname(path));
}

/** Write data then fsync, without the rename (async; the caller creates the directory). */
export async function writeFileSyncedAsync(path: string, data: string | Uint8Array): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write data then fsync, without the rename (for data files committed later by a manifest). */
export function writeFileSynced(path: string, data: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const fd = openSync(path, 'w');
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A temporary sibling of `path` being written: fsync(), then commit() renames it into place, or abort() removes it. */
function openAtomic(path: string) {
  const tmp = tmpName(path);
  const fd = openSync(tmp, 'w');
  let bytes = 0;
  return {
    /** each writeSync at most 64 MiB (it takes at most 2 GiB at once) */
    write(c: Uint8Array): void {
      for (let o = 0; o < c.length; ) o += writeSync(fd, c, o, Math.min(c.length - o, 1 << 26));
      bytes += c.length;
    },
    fsync(): void {
      fsyncSync(fd);
    },
    abort(): void {
      closeSync(fd);
      rmSync(tmp, { force: true });
    },
    commit(): number {
      closeSync(fd);
      renameSync(tmp, path);
      fsyncDir(dirname(path));
      return bytes;
    },
  };
}

/**
 * Write `chunks` in order to `path` atomically (temporary name, fsync, rename, fsync dir).
 * For files too large to concatenate in memory first (model exports).
 * @returns bytes written
 */
export function writeChunksAtomicSync(path: string, chunks: Iterable<Uint8Array>): number {
  const f = openAtomic(path);
  try {
    for (const c of chunks) f.write(c);
    f.fsync();
  } catch (e) {
    f.abort();
    throw e;
  }
  return f.commit();
}

/**
 * {@link writeChunksAtomicSync} for chunks produced asynchronously (streamed outputs such as
 * predictions): nothing appears under `path` unless every chunk was written and synced.
 * @returns bytes written
 */
export async function writeChunksAtomic(path: string, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  const f = openAtomic(path);
  try {
    for await (const c of chunks) f.write(c);
    f.fsync();
  } catch (e) {
    f.abort();
    throw e;
  }
  return f.commit();
}
