/**
 * Entries of the continuous update log: one Redis Stream per embedding table, every entry
 * `XADD <key> <version>-0 h <header JSON> d <payload>`. All streams receive every version (an
 * entry with no rows is a few bytes), so a version is complete only when every stream holds it.
 *
 * | kind   | header `h` (JSON)                                            | payload `d`                                    |
 * |--------|--------------------------------------------------------------|------------------------------------------------|
 * | rows   | k, v, prev, step, t, n, dim, acc, len, crc                   | ids n×i32 (ascending), weights n×dim f32, accum n f32 (acc = 1) |
 * | marker | k, v, prev, step, t, ckpt (checkpoint version), n = 0, len 0, crc | empty                                     |
 *
 * `prev` is the version appended before this one (0 for the first): a deleted or missing entry
 * is a gap. `crc` is the CRC-32 of the payload (8 hex digits), `len` its byte length: a torn or
 * damaged entry fails one of them. Values are the rows' full fp32 weights and Adagrad
 * accumulators (not deltas), so replay overwrites and order decides only which value is last.
 */
import { crc32 } from 'node:zlib';
import { gatherRows } from '../checkpoint/delta.js';

/** Format of the entry header; a reader refuses others. */
export const LOG_FORMAT = 1;

/** The JSON header of one entry. */
export interface EntryHead {
  /** format */
  f: number;
  k: 'rows' | 'marker';
  /** version (also the stream entry id `<v>-0`) */
  v: number;
  /** the version appended before this one, 0 = none */
  prev: number;
  /** training steps done when the entry was cut */
  step: number;
  /** table index */
  t: number;
  /** rows in the payload */
  n: number;
  dim: number;
  /** 1 when the payload holds Adagrad accumulators */
  acc: 0 | 1;
  /** markers: the checkpoint version whose dense state this marker goes with */
  ckpt?: number;
  len: number;
  crc: string;
}

/** A decoded entry (payload views alias its buffer). */
export interface Entry {
  head: EntryHead;
  ids: Int32Array;
  weights: Float32Array;
  accum: Float32Array | null;
}

const hex = (b: Uint8Array): string => (crc32(b) >>> 0).toString(16).padStart(8, '0');

/**
 * Payload of a rows entry: ids[0..n) and their rows of `weights` (rows×dim) and `accum`.
 * @returns a fresh buffer (it stays referenced by the queued command until sent)
 */
export function encodeRows(ids: Int32Array, n: number, weights: Float32Array, accum: Float32Array | null, dim: number): Buffer {
  const len = 4 * n * (1 + dim + (accum ? 1 : 0));
  const buf = Buffer.allocUnsafe(len);
  const at = buf.byteOffset;
  // Buffer.allocUnsafe slices a shared pool: offsets are 8-aligned there, so typed views fit
  new Int32Array(buf.buffer, at, n).set(ids.subarray(0, n));
  gatherRows(new Float32Array(buf.buffer, at + 4 * n, n * dim), weights, ids, n, dim);
  if (accum) gatherRows(new Float32Array(buf.buffer, at + 4 * n * (1 + dim), n), accum, ids, n, 1);
  return buf;
}

/** Header of an entry over `payload`. */
export function headOf(fields: Omit<EntryHead, 'f' | 'len' | 'crc'>, payload: Uint8Array): EntryHead {
  return { f: LOG_FORMAT, ...fields, len: payload.length, crc: hex(payload) };
}

/**
 * Decode one stream entry; null with a reason when it is torn or damaged
 * (header not JSON / another format, id ≠ header version, length or CRC-32 mismatch, bad shape).
 */
export function decodeEntry(id: string, h: Buffer | undefined, d: Buffer | undefined, t: number, dim: number, rows: number): Entry | string {
  if (!h || !d) return `entry ${id} lacks its ${!h ? 'header' : 'payload'}`;
  let head: EntryHead;
  try {
    head = JSON.parse(h.toString('utf8')) as EntryHead;
  } catch {
    return `entry ${id} has a header that is not JSON`;
  }
  if (head.f !== LOG_FORMAT) return `entry ${id} has log format ${String(head.f)}, this build reads ${LOG_FORMAT}`;
  if (`${head.v}-0` !== id) return `entry ${id} says version ${head.v}`;
  if (head.t !== t) return `entry ${id} belongs to table ${head.t}, found in the stream of table ${t}`;
  if (d.length !== head.len) return `entry ${id} is torn: payload ${d.length} bytes, header says ${head.len}`;
  if (hex(d) !== head.crc) return `entry ${id} fails its CRC-32 (payload damaged)`;
  const n = head.n;
  const acc = head.acc === 1;
  if (head.k === 'marker') return n === 0 && d.length === 0 && Number.isInteger(head.ckpt) ? { head, ids: new Int32Array(0), weights: new Float32Array(0), accum: null } : `marker ${id} is malformed`;
  if (head.k !== 'rows' || head.dim !== dim || d.length !== 4 * n * (1 + dim + (acc ? 1 : 0))) return `entry ${id} does not have the table's shape (dim ${dim})`;
  // copy into an aligned buffer (a Buffer from the driver may sit at any offset)
  const own = new Uint8Array(d.length);
  own.set(d);
  const ids = new Int32Array(own.buffer, 0, n);
  for (let i = 0; i < n; i++) if (ids[i]! < 0 || ids[i]! >= rows) return `entry ${id}: row id ${ids[i]} out of range [0, ${rows})`;
  return {
    head,
    ids,
    weights: new Float32Array(own.buffer, 4 * n, n * dim),
    accum: acc ? new Float32Array(own.buffer, 4 * n * (1 + dim), n) : null,
  };
}
