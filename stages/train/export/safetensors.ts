/**
 * A hand-written safetensors writer (no maintained npm writer exists). The format
 * (huggingface/safetensors, "format" section of its README):
 *
 *     u64 little endian N | N bytes of JSON header | data
 *     header: { "<name>": { "dtype": "F32", "shape": [..], "data_offsets": [begin, end] }, …,
 *               "__metadata__": { "<key>": "<string value>", … } }
 *
 * Offsets are relative to the start of the data, contiguous, in the order written; the JSON
 * is padded with spaces so the data starts 8-byte aligned. Tensors are written straight from
 * their Float32Arrays (no copy), so a 2 GB model needs no 2 GB buffer.
 */
import { writeChunksAtomicSync } from '../../../pipeline/atomic.js';
import { PipelineError } from '../../../pipeline/errors.js';

/** One fp32 tensor, row-major. */
export interface Tensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The JSON header for `tensors` (data offsets in the order given). */
export function safetensorsHeader(tensors: readonly Tensor[], metadata: Record<string, string>): Buffer {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let off = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new PipelineError('internal', `safetensors: duplicate tensor name '${t.name}'`);
    names.add(t.name);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new PipelineError('internal', `safetensors: '${t.name}' has ${t.data.length} floats, shape [${t.shape.join(', ')}] needs ${n}`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + 4 * n] };
    off += 4 * n;
  }
  let json = JSON.stringify(header);
  const pad = (8 - ((8 + Buffer.byteLength(json)) % 8)) % 8;
  json += ' '.repeat(pad);
  const body = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + body.length);
  out.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(out, 8);
  return out;
}

/**
 * Write a safetensors file atomically (temporary name, fsync, rename).
 * @returns bytes written
 */
export function writeSafetensors(path: string, tensors: readonly Tensor[], metadata: Record<string, string>): number {
  const head = safetensorsHeader(tensors, metadata);
  return writeChunksAtomicSync(path, [head, ...tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}
