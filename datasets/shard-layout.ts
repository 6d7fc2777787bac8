/**
 * Fast shard encoding: the Arrow IPC bytes apache-arrow writes for a shard
 * depend on its data only inside the column buffers (no nulls, no dictionaries,
 * no compression). Everything else (magic, schema and record-batch metadata,
 * padding, end-of-stream marker, footer) is a function of the row count. So the
 * first shard of each row count is encoded by apache-arrow and its bytes are
 * checked against the model (body = the 40 buffers in column order, each padded
 * to 8 bytes, right before the end-of-stream marker and the footer); the bytes
 * around the body become that row count's template. Later shards of that row
 * count are one copy per column into place, into a reused buffer when the
 * caller has one (a fresh 41 MB buffer costs more in page faults than the copy):
 * the same bytes as apache-arrow (test/datasets/shards.test.ts checks it on
 * random data), a fraction of the time. A shard that does not fit the model
 * keeps apache-arrow.
 */
import { makeTable, tableToIPC } from 'apache-arrow';
import { CAT_COLUMNS, CAT_FEATURE_COUNT, INT_COLUMNS, INT_FEATURE_COUNT, LABEL_COLUMN } from './criteo/constants.js';

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

function arrowEncode(cols: Columns): Uint8Array {
  const data: Record<string, Int8Array | Float32Array | Int32Array> = { [LABEL_COLUMN]: cols.label };
  for (let i = 0; i < INT_FEATURE_COUNT; i++) data[INT_COLUMNS[i]!] = cols.dense[i]!;
  for (let i = 0; i < CAT_FEATURE_COUNT; i++) data[CAT_COLUMNS[i]!] = cols.cats[i]!;
  return tableToIPC(makeTable(data), 'file');
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
const cache = new Map<number, ShardLayout | null>();
const CACHE_MAX = 16;

/** The layout learnt for `n` rows, if any. */
export function cachedLayout(n: number): ShardLayout | undefined {
  return cache.get(n) ?? undefined;
}

/** Remember a layout (or that none fits: then apache-arrow keeps encoding that size). */
function remember(n: number, l: ShardLayout | null): void {
  if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
  cache.set(n, l);
}

/**
 * Encode `cols`: with the learnt template when there is one for its row count
 * (into `target` when it has exactly the right length: a reused buffer takes no
 * page faults), else with apache-arrow, learning the template from the result.
 */
export function encodeLearning(cols: Columns, target?: Uint8Array): Uint8Array {
  const l = cache.get(cols.rows);
  if (l) return encodeWithLayout(cols, l, target);
  const bytes = arrowEncode(cols);
  if (l === undefined) remember(cols.rows, learnLayout(cols, bytes));
  return bytes;
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
