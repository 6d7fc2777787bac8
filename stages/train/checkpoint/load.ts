/**
 * Loading a chain (full base + increments in version order) into a TrainState.
 * Every file read is checked: size (truncation), header, layout and CRC-32.
 * Dense arrays and blobs are stored in full in every version, so only the last
 * version's are read; tables come from the base (read straight into them), then
 * from the increments newest first with a per-table "done" bitset, so each row is
 * copied once. An increment is read whole into one reused buffer and its CRC-32
 * checked before any of its rows is applied.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError, mismatch } from '../../../pipeline/errors.js';
import { type BlobDtype, type CheckpointFileEntry, type CheckpointManifest, HEADER_BYTES, SECTION, type TableEntry, dataName, versionName } from './format.js';
import { HashingReader, checkSize, checksumError, headerAt, readVerified } from './io.js';
import type { Blob, TableState, TrainState } from './types.js';

/** The data file a manifest describes (`vNNNNNN.bin`, or `vNNNNNN.flat.bin` for a flat increment). */
function dataRel(m: CheckpointManifest): string {
  return m.files[0]?.path ?? dataName(m.version);
}

function fileOf(dir: string, m: CheckpointManifest, rel: string): CheckpointFileEntry {
  const f = m.files.find((e) => e.path === rel);
  if (!f) throw new PipelineError('bad_manifest', `checkpoint ${versionName(m.version)} lists no checksum for ${rel}`, { file: join(dir, rel) });
  return f;
}

function newBlob(dtype: BlobDtype, n: number): Blob {
  switch (dtype) {
    case 'f32':
      return new Float32Array(n);
    case 'i32':
      return new Int32Array(n);
    case 'f64':
      return new Float64Array(n);
    case 'u8':
      return new Uint8Array(n);
  }
}

/** Check that `into` has the shapes the checkpoint version `m` was written with. */
export function checkShapes(m: CheckpointManifest, into: TrainState): void {
  const hint = 'resume with the config the checkpoint was written with (its manifest holds it), or start without --resume';
  const v = versionName(m.version);
  if (m.tables.length !== into.tables.length) {
    throw mismatch(`checkpoint ${v} has ${m.tables.length} embedding tables, the model has ${into.tables.length}`, hint);
  }
  for (let i = 0; i < m.tables.length; i++) {
    const e = m.tables[i]!;
    const t = into.tables[i]!;
    if (e.name !== t.name || e.rows !== t.rows || e.dim !== t.dim || e.accum !== (t.accum !== null)) {
      throw mismatch(
        `checkpoint ${v} table ${i} is ${e.name} ${e.rows}×${e.dim}${e.accum ? ' +accum' : ''}, the model's is ${t.name} ${t.rows}×${t.dim}${t.accum ? ' +accum' : ''}`,
        hint,
      );
    }
  }
  const names = Object.keys(into.dense);
  if (names.length !== m.dense.length) {
    throw mismatch(`checkpoint ${v} has ${m.dense.length} dense arrays, the model has ${names.length}`, hint);
  }
  for (const e of m.dense) {
    const a = into.dense[e.name];
    if (!a || a.length !== e.length) {
      throw mismatch(`checkpoint ${v} dense array '${e.name}' has ${e.length} values, the model's has ${a ? a.length : 'none'}`, hint);
    }
  }
}

/** Read a full table section into the table's arrays (straight from the file, checksummed chunk by chunk). */
function loadFull(r: HashingReader, e: TableEntry, t: TableState): void {
  r.skipTo(e.offset);
  const n = r.header(SECTION.full);
  if (n !== t.rows) throw checksumError(r.path, `full section of table ${e.name} holds ${n} rows, expected ${t.rows}`);
  r.readInto(t.weights);
  if (t.accum) r.readInto(t.accum);
}

/** Rows per chunk of a fused base read: about 1 MiB of the array being read. */
const FUSED_CHUNK_BYTES = 1 << 20;

/**
 * Read `dst` (rows×width floats) from the base file in chunks of about 1 MiB, and right
 * after each chunk (still in cache) overwrite the rows the increment stores in it: the ids
 * are ascending, so this is one merge walk, not a scatter over the whole table.
 */
function readFused(r: HashingReader, dst: Float32Array, rows: number, width: number, ids: Int32Array, src: Float32Array, name: string): void {
  const chunk = Math.max(1, Math.floor(FUSED_CHUNK_BYTES / (4 * width)));
  // rows of an even width move as float64 pairs (half the element copies; bit patterns, NaNs included, are kept)
  const wide = (width & 1) === 0 && (dst.byteOffset & 7) === 0 && (src.byteOffset & 7) === 0;
  const d64 = wide ? new Float64Array(dst.buffer, dst.byteOffset, dst.length >>> 1) : null;
  const s64 = wide ? new Float64Array(src.buffer, src.byteOffset, src.length >>> 1) : null;
  const n = ids.length;
  let c = 0;
  let prev = -1;
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    r.readInto(dst.subarray(r0 * width, r1 * width));
    let end = c;
    while (end < n && ids[end]! < r1) {
      if (ids[end]! <= prev) throw checksumError(r.path, `table ${name}: increment row ids are not ascending (${ids[end]} after ${prev})`);
      prev = ids[end]!;
      end++;
    }
    if (d64 !== null && s64 !== null) copyRowsAt(d64, s64, ids, c, end, width >>> 1);
    else copyRowsAt(dst, src, ids, c, end, width);
    c = end;
  }
  if (c < n) throw checksumError(r.path, `table ${name}: row id ${ids[c]} out of range [0, ${rows})`);
}

/**
 * dst[ids[k]] = src[k] for k in [from, to), rows of `width` elements (float32 or float64 pairs of them).
 * @param dst rows×width, src n×width
 */
export function copyRowsAt<T extends Float32Array | Float64Array>(dst: T, src: T, ids: Int32Array, from: number, to: number, width: number): void {
  for (let k = from; k < to; k++) {
    const o = ids[k]! * width;
    const s = k * width;
    for (let j = 0; j < width; j++) dst[o + j] = src[s + j]!;
  }
}

/**
 * Read a full table section into the table's arrays and apply one verified increment's
 * section of the same table in the same pass (base + one increment: a flat file or the
 * chain's only increment). Same result as {@link loadFull} then {@link applyIncr}.
 */
function loadFullWith(r: HashingReader, e: TableEntry, t: TableState, path: string, file: Uint8Array, ie: TableEntry): void {
  r.skipTo(e.offset);
  const n = r.header(SECTION.full);
  if (n !== t.rows) throw checksumError(r.path, `full section of table ${e.name} holds ${n} rows, expected ${t.rows}`);
  const k = headerAt(path, file, ie.offset, SECTION.incr);
  if (k !== ie.stored) throw checksumError(path, `incremental section of table ${ie.name} holds ${k} rows, manifest says ${ie.stored}`);
  const idsAt = ie.offset + HEADER_BYTES;
  const rowsAt = (idsAt + 4 * k + 7) & ~7;
  const ids = viewAt(path, file, idsAt, k, i32, 4);
  readFused(r, t.weights, t.rows, t.dim, ids, viewAt(path, file, rowsAt, k * t.dim, f32, 4), e.name);
  if (t.accum) readFused(r, t.accum, t.rows, 1, ids, viewAt(path, file, rowsAt + 4 * k * t.dim, k, f32, 4), e.name);
}

/** A typed view of `length` elements at byte `at` of an in-memory file, bounds and alignment checked. */
function viewAt<T extends Blob>(
  path: string,
  file: Uint8Array,
  at: number,
  length: number,
  make: (b: ArrayBufferLike, off: number, len: number) => T,
  bytesPer: number,
): T {
  if (at < 0 || at % bytesPer !== 0 || at + length * bytesPer > file.length) {
    throw checksumError(path, `checkpoint file layout does not match its manifest (array at byte ${at} of ${file.length})`);
  }
  return make(file.buffer, file.byteOffset + at, length);
}
const f32 = (b: ArrayBufferLike, o: number, n: number): Float32Array => new Float32Array(b, o, n);
const i32 = (b: ArrayBufferLike, o: number, n: number): Int32Array => new Int32Array(b, o, n);

/**
 * Apply one verified increment's table section: rows whose `done` bit is clear are
 * copied into the table and marked done (increments are applied newest first, so a
 * row a newer version already wrote is skipped: each row is copied once).
 */
function applyIncr(path: string, file: Uint8Array, e: TableEntry, t: TableState, done: Uint8Array): void {
  const n = headerAt(path, file, e.offset, SECTION.incr);
  if (n !== e.stored) throw checksumError(path, `incremental section of table ${e.name} holds ${n} rows, manifest says ${e.stored}`);
  const idsAt = e.offset + HEADER_BYTES;
  const rowsAt = (idsAt + 4 * n + 7) & ~7;
  const ids = viewAt(path, file, idsAt, n, i32, 4);
  const rows = viewAt(path, file, rowsAt, n * t.dim, f32, 4);
  const acc = t.accum ? viewAt(path, file, rowsAt + 4 * n * t.dim, n, f32, 4) : null;
  const w = t.weights;
  const a = t.accum;
  const dim = t.dim;
  for (let k = 0; k < n; k++) {
    const id = ids[k]!;
    if (id < 0 || id >= t.rows) throw checksumError(path, `table ${e.name}: row id ${id} out of range [0, ${t.rows})`);
    const byte = id >>> 3;
    const bit = 1 << (id & 7);
    const d = done[byte]!;
    if ((d & bit) !== 0) continue;
    done[byte] = d | bit;
    const o = id * dim;
    const s = k * dim;
    for (let j = 0; j < dim; j++) w[o + j] = rows[s + j]!;
    if (a !== null && acc !== null) a[id] = acc[k]!;
  }
}

/** Dense arrays of an in-memory (verified) file into `into.dense`. */
function denseFrom(path: string, file: Uint8Array, m: CheckpointManifest, into: TrainState): void {
  if (headerAt(path, file, m.denseOffset, SECTION.dense) !== m.dense.length) throw checksumError(path, 'dense section array count does not match the manifest');
  for (const e of m.dense) into.dense[e.name]!.set(viewAt(path, file, e.offset, e.length, f32, 4));
}

/** Blobs (fresh arrays) of an in-memory (verified) file. */
function blobsFrom(path: string, file: Uint8Array, m: CheckpointManifest): Record<string, Blob> {
  if (headerAt(path, file, m.blobsOffset, SECTION.blobs) !== m.blobs.length) throw checksumError(path, 'blob section array count does not match the manifest');
  const blobs: Record<string, Blob> = {};
  for (const e of m.blobs) {
    const b = newBlob(e.dtype, e.length);
    const src = viewAt(path, file, e.offset, b.byteLength, (buf, o, n) => new Uint8Array(buf, o, n), 1);
    new Uint8Array(b.buffer, b.byteOffset, b.byteLength).set(src);
    blobs[e.name] = b;
  }
  return blobs;
}

function loadDense(r: HashingReader, m: CheckpointManifest, into: TrainState): void {
  r.skipTo(m.denseOffset);
  if (r.header(SECTION.dense) !== m.dense.length) throw checksumError(r.path, 'dense section array count does not match the manifest');
  for (const e of m.dense) {
    if (r.offset !== e.offset) throw checksumError(r.path, `dense array '${e.name}' is not at its manifest offset`);
    r.readInto(into.dense[e.name]!);
  }
}

function loadBlobs(r: HashingReader, m: CheckpointManifest): Record<string, Blob> {
  r.skipTo(m.blobsOffset);
  if (r.header(SECTION.blobs) !== m.blobs.length) throw checksumError(r.path, 'blob section array count does not match the manifest');
  const blobs: Record<string, Blob> = {};
  for (const e of m.blobs) {
    r.pad8();
    if (r.offset !== e.offset) throw checksumError(r.path, `blob '${e.name}' is not at its manifest offset`);
    const b = newBlob(e.dtype, e.length);
    r.readInto(b);
    blobs[e.name] = b;
  }
  return blobs;
}

/**
 * Load `chain` (base first) into `into` and return the last version's blobs
 * (fresh arrays; also copied into `into.blobs` entries of the same type and length).
 * Each version's data file is read in one sequential pass and its CRC-32 checked;
 * dense arrays and blobs are taken from the last version only.
 * @throws PipelineError `checksum` naming the first bad file; `mismatch` on shapes.
 */
/** Shapes of every version against `into`, and every data file's size, before anything is read. */
function checkChain(dir: string, chain: CheckpointManifest[], into: TrainState): void {
  const last = chain[chain.length - 1]!;
  checkShapes(last, into);
  for (const m of chain) {
    if (m === last) continue;
    try {
      checkShapes(m, into);
    } catch {
      throw new PipelineError('bad_manifest', `checkpoint chain of ${versionName(last.version)} mixes table shapes (at ${versionName(m.version)})`, {
        file: join(dir, `${versionName(m.version)}.json`),
      });
    }
  }
  // sizes of every file first: a truncated increment is found before the base is read
  for (const m of chain) {
    const rel = dataRel(m);
    const path = join(dir, rel);
    const f = fileOf(dir, m, rel);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      throw checksumError(path, 'checkpoint file is missing');
    }
    checkSize(path, size, f.bytes);
  }
}

/** Load the chain's full base straight into the tables (and dense/blobs when it is the last version). */
function loadBase(dir: string, chain: CheckpointManifest[], into: TrainState): Record<string, Blob> {
  const base = chain[0]!;
  let blobs: Record<string, Blob> = {};
  const rel = dataRel(base);
  const r = new HashingReader(join(dir, rel), fileOf(dir, base, rel));
  try {
    if (base === chain[chain.length - 1]) {
      loadDense(r, base, into);
      blobs = loadBlobs(r, base);
    }
    for (let i = 0; i < into.tables.length; i++) loadFull(r, base.tables[i]!, into.tables[i]!);
    r.skipTo(base.bytes);
    r.finish();
  } finally {
    r.close();
  }
  return blobs;
}

function incrOf(dir: string, m: CheckpointManifest): { path: string; entry: CheckpointFileEntry } {
  if (m.kind !== 'incr') throw new PipelineError('bad_manifest', `checkpoint ${versionName(m.version)} in the middle of a chain is not incremental`, { file: join(dir, `${versionName(m.version)}.json`) });
  const rel = dataRel(m);
  return { path: join(dir, rel), entry: fileOf(dir, m, rel) };
}

/** Apply one verified increment file (newest first); returns its blobs when it is the last version. */
function applyIncrFile(path: string, file: Uint8Array, m: CheckpointManifest, last: boolean, into: TrainState, done: Uint8Array[]): Record<string, Blob> | null {
  let blobs: Record<string, Blob> | null = null;
  if (last) {
    denseFrom(path, file, m, into);
    blobs = blobsFrom(path, file, m);
  }
  for (let i = 0; i < into.tables.length; i++) applyIncr(path, file, m.tables[i]!, into.tables[i]!, done[i]!);
  return blobs;
}

function copyBlobs(blobs: Record<string, Blob>, into: TrainState): Record<string, Blob> {
  for (const [name, b] of Object.entries(blobs)) {
    const t = into.blobs[name];
    if (t && t.constructor === b.constructor && t.length === b.length) {
      new Uint8Array(t.buffer, t.byteOffset, t.byteLength).set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    }
  }
  return blobs;
}

const doneBits = (into: TrainState): Uint8Array[] => into.tables.map((t) => new Uint8Array((t.rows + 7) >>> 3));

/**
 * Load `chain` (base first) into `into` and return the last version's blobs
 * (fresh arrays; also copied into `into.blobs` entries of the same type and length).
 * Every data file is read once and its CRC-32 checked; dense arrays and blobs are
 * taken from the last version only.
 * @throws PipelineError `checksum` naming the first bad file; `mismatch` on shapes.
 */
export function loadChain(dir: string, chain: CheckpointManifest[], into: TrainState): Record<string, Blob> {
  checkChain(dir, chain, into);
  if (chain.length === 2) return copyBlobs(loadPair(dir, chain[0]!, chain[1]!, into), into);
  let blobs = loadBase(dir, chain, into);
  // increments newest first, each read whole into one reused buffer and verified before any row is applied
  const done = doneBits(into);
  let buf: Uint8Array = new Uint8Array(0);
  for (let c = chain.length - 1; c >= 1; c--) {
    const m = chain[c]!;
    const { path, entry } = incrOf(dir, m);
    buf = readVerified(path, entry, buf);
    blobs = applyIncrFile(path, buf.subarray(0, m.bytes), m, c === chain.length - 1, into, done) ?? blobs;
  }
  return copyBlobs(blobs, into);
}

/**
 * Base + one increment (a flat increment, or a chain of length 2): the increment is read
 * whole and verified first, then the base is streamed into the tables with the increment's
 * rows applied chunk by chunk while each chunk is in cache (no scattered row copies).
 */
function loadPair(dir: string, base: CheckpointManifest, incr: CheckpointManifest, into: TrainState): Record<string, Blob> {
  const { path, entry } = incrOf(dir, incr);
  const file = readVerified(path, entry, new Uint8Array(0)).subarray(0, incr.bytes);
  denseFrom(path, file, incr, into);
  const blobs = blobsFrom(path, file, incr);
  const rel = dataRel(base);
  const r = new HashingReader(join(dir, rel), fileOf(dir, base, rel));
  try {
    for (let i = 0; i < into.tables.length; i++) loadFullWith(r, base.tables[i]!, into.tables[i]!, path, file, incr.tables[i]!);
    r.skipTo(base.bytes);
    r.finish();
  } finally {
    r.close();
  }
  return blobs;
}
