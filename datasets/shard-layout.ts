/**
 * Fast shard encoding without apache-arrow: the Arrow IPC bytes apache-arrow
 * writes for a shard depend on its data only inside the column buffers (no
 * nulls, no dictionaries, no compression). Everything else (magic, schema and
 * record-batch metadata, padding, end-of-stream marker, footer) is a function of
 * the row count, captured once by `scripts/gen-shard-template.ts` as the n = 1
 * bytes plus the int64 slots that depend on n (`shard-template.ts`). A shard is
 * the template with those slots filled in and one copy per column into place,
 * into a reused buffer when the caller has one (a fresh 41 MB buffer costs more
 * in page faults than the copy): the same bytes as apache-arrow
 * (test/datasets/shards.test.ts checks it on random data and sizes), and the
 * preprocess path never loads apache-arrow.
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from './criteo/constants.js';
import { HEAD_1, HEAD_SLOTS, TAIL_1, TAIL_SLOTS } from './shard-template.js';

/** Columns as encodeShard takes them (see shards.ts). */
interface Columns {
  rows: number;
  label: Int8Array;
  dense: Float32Array[];
  cats: Int32Array[];
}

/** Where each column's bytes go for one row count. */
export interface ShardLayout {
  rows: number;
  /** file length */
  bytes: number;
  /** template: the metadata bytes before the body and after it */
  head: Uint8Array;
  tail: Uint8Array;
  /** byte offset of each of the 40 columns (label, I1..I13, C1..C26) */
  offsets: number[];
  /** byte offset where the tail starts */
  tailAt: number;
}

const pad8 = (n: number): number => (n + 7) & ~7;

/** Byte length of column c (0 = label, then 13 Float32, then 26 Int32) for n rows. */
function columnBytes(c: number, n: number): number {
  return c === 0 ? n : 4 * n;
}

function columnsBytes(cols: Columns): Uint8Array[] {
  const views = [cols.label, ...cols.dense, ...cols.cats];
  return views.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
}

/** Bytes between the body and the footer: the end-of-stream marker (continuation, length 0). */
const EOS_BYTES = 8;
const MAGIC = 'ARROW1';

/**
 * Learn the layout for `cols.rows` rows from apache-arrow's encoding `bytes` of
 * `cols`: the footer length sits before the closing magic, the end-of-stream
 * marker before the footer, the body (40 buffers, 8-byte padded) before that.
 * Checked against the data: every column's bytes where the model puts them,
 * zero padding. @returns null when the bytes do not fit the model
 */
export function learnLayout(cols: Columns, bytes: Uint8Array): ShardLayout | null {
  const n = cols.rows;
  const T = bytes.length;
  if (n < 1 || T < 32) return null;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, T);
  if (buf.toString('latin1', 0, 6) !== MAGIC || buf.toString('latin1', T - 6) !== MAGIC) return null;
  const footerLen = buf.readInt32LE(T - 10);
  let body = 0;
  for (let c = 0; c < 1 + INT_FEATURE_COUNT + CAT_FEATURE_COUNT; c++) body += pad8(columnBytes(c, n));
  const tailAt = T - 10 - footerLen - EOS_BYTES;
  const start = tailAt - body;
  if (footerLen <= 0 || start < 8) return null;
  if (buf.readInt32LE(tailAt) !== -1 || buf.readInt32LE(tailAt + 4) !== 0) return null;
  const src = columnsBytes(cols);
  const offsets: number[] = [];
  let at = start;
  for (let c = 0; c < src.length; c++) {
    const s = src[c]!;
    if (!buf.subarray(at, at + s.length).equals(s)) return null;
    for (let i = at + s.length; i < at + pad8(s.length); i++) if (buf[i] !== 0) return null;
    offsets.push(at);
    at += pad8(s.length);
  }
  return { rows: n, bytes: T, head: bytes.slice(0, start), tail: bytes.slice(tailAt), offsets, tailAt };
}

/** Layouts by row count (parts share one; split pieces add a few). */
const cache = new Map<number, ShardLayout>();
const CACHE_MAX = 16;

function fill(template: string, slots: readonly (readonly number[])[], n: number): Uint8Array {
  const bytes = Uint8Array.from(Buffer.from(template, 'base64')); // own buffer, not Buffer's pool
  const view = new DataView(bytes.buffer);
  for (const [at, a, b, c, d] of slots) view.setBigInt64(at!, BigInt(a! * n + b! * pad8(n) + c! * pad8(4 * n) + d!), true);
  return bytes;
}

/** The layout of an `n`-row shard (n ≥ 1), from the template. */
export function layoutFor(n: number): ShardLayout {
  let l = cache.get(n);
  if (l) return l;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`shard row count must be a positive integer, got ${n}`);
  const head = fill(HEAD_1, HEAD_SLOTS, n);
  const tail = fill(TAIL_1, TAIL_SLOTS, n);
  const offsets: number[] = [];
  let at = head.length;
  for (let c = 0; c < 1 + INT_FEATURE_COUNT + CAT_FEATURE_COUNT; c++) {
    offsets.push(at);
    at += pad8(columnBytes(c, n));
  }
  l = { rows: n, bytes: at + tail.length, head, tail, offsets, tailAt: at };
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(n, l);
  return l;
}

/**
 * Encode `cols` with the template for its row count, into `target` when it has
 * exactly the right length (a reused buffer takes no page faults). 0 rows: apache-arrow's
 * encoding of an empty shard differs in shape, so the caller (shards.ts) takes those.
 */
export function encodeTemplate(cols: Columns, target?: Uint8Array): Uint8Array {
  return encodeWithLayout(cols, layoutFor(cols.rows), target);
}

/**
 * Encode `cols` (with `l.rows` rows) with the template, into `target` when it
 * has exactly the right length, else into a new buffer.
 */
export function encodeWithLayout(cols: Columns, l: ShardLayout, target?: Uint8Array): Uint8Array {
  const out = target && target.byteLength === l.bytes ? target : new Uint8Array(l.bytes);
  out.set(l.head, 0);
  const src = columnsBytes(cols);
  for (let c = 0; c < src.length; c++) {
    const o = l.offsets[c]!;
    const s = src[c]!;
    out.set(s, o);
    out.fill(0, o + s.length, o + pad8(s.length));
  }
  out.set(l.tail, l.tailAt);
  return out;
}

/**
 * The column views of layout `l` inside `bytes` (`l.bytes` long, 8-aligned): a part shard is built
 * in place (its rows written straight into these views), then {@link sealInPlace} writes the
 * metadata around them: no copy of the columns.
 */
export function columnsIn(bytes: Uint8Array, l: ShardLayout): Columns {
  if (bytes.byteLength !== l.bytes || bytes.byteOffset % 8 !== 0) throw new RangeError(`a ${l.rows}-row shard buffer must be ${l.bytes} bytes, 8-aligned`);
  const n = l.rows;
  const base = bytes.byteOffset;
  return {
    rows: n,
    label: new Int8Array(bytes.buffer, base + l.offsets[0]!, n),
    dense: Array.from({ length: INT_FEATURE_COUNT }, (_, i) => new Float32Array(bytes.buffer, base + l.offsets[1 + i]!, n)),
    cats: Array.from({ length: CAT_FEATURE_COUNT }, (_, i) => new Int32Array(bytes.buffer, base + l.offsets[1 + INT_FEATURE_COUNT + i]!, n)),
  };
}

/**
 * Finish a shard whose columns were written in place ({@link columnsIn}): the template's head and
 * tail and the zero padding after each column. The same bytes as {@link encodeWithLayout}.
 */
export function sealInPlace(bytes: Uint8Array, l: ShardLayout): Uint8Array {
  bytes.set(l.head, 0);
  for (let c = 0; c < l.offsets.length; c++) {
    const end = l.offsets[c]! + columnBytes(c, l.rows);
    bytes.fill(0, end, l.offsets[c]! + pad8(columnBytes(c, l.rows)));
  }
  bytes.set(l.tail, l.tailAt);
  return bytes;
}

/**
 * The columns of a shard this module encoded (`n` rows), as views into `bytes`, or null when
 * the bytes are not exactly the template's for `n` rows (the caller then decodes with apache-arrow).
 */
export function decodeTemplate(bytes: Uint8Array, n: number): Columns | null {
  if (!Number.isInteger(n) || n < 1) return null;
  const l = layoutFor(n);
  if (bytes.byteLength !== l.bytes) return null;
  const own = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const at = (o: number, len: number): Uint8Array => own.subarray(o, o + len);
  const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
  if (!same(at(0, l.head.length), l.head) || !same(at(l.tailAt, l.tail.length), l.tail)) return null;
  const base = own.byteOffset;
  const label = new Int8Array(own.buffer, base + l.offsets[0]!, n);
  const dense = Array.from({ length: INT_FEATURE_COUNT }, (_, i) => new Float32Array(own.buffer, base + l.offsets[1 + i]!, n));
  const cats = Array.from({ length: CAT_FEATURE_COUNT }, (_, i) => new Int32Array(own.buffer, base + l.offsets[1 + INT_FEATURE_COUNT + i]!, n));
  return { rows: n, label, dense, cats };
}
