/**
 * Loading a chain (full base + increments in version order) into a TrainState.
 * Every file read is checked: size (truncation), header, layout and sha256.
 * Dense arrays and blobs are stored in full in every version, so only the last
 * version's are read; tables come from the base, then each increment's rows.
 */
import { join } from 'node:path';
import { PipelineError, mismatch } from '../../../pipeline/errors.js';
import type { FileEntry } from '../../../pipeline/manifest.js';
import { scatterRows } from './delta.js';
import { type BlobDtype, type CheckpointManifest, SECTION, type TableEntry, dataName, versionName } from './format.js';
import { HashingReader, checksumError } from './io.js';
import type { Blob, TableState, TrainState } from './types.js';

function fileOf(dir: string, m: CheckpointManifest, rel: string): FileEntry {
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

/** Scratch buffers for increments, reused across sections. */
class Scratch {
  ids = new Int32Array(0);
  rows = new Float32Array(0);
  acc = new Float32Array(0);
  ensure(n: number, dim: number): void {
    if (this.ids.length < n) this.ids = new Int32Array(n);
    if (this.rows.length < n * dim) this.rows = new Float32Array(n * dim);
    if (this.acc.length < n) this.acc = new Float32Array(n);
  }
}

/** Read a full table section into the table's arrays. */
function loadFull(r: HashingReader, e: TableEntry, t: TableState): void {
  r.skipTo(e.offset);
  const n = r.header(SECTION.full);
  if (n !== t.rows) throw checksumError(r.path, `full section of table ${e.name} holds ${n} rows, expected ${t.rows}`);
  r.readInto(t.weights);
  if (t.accum) r.readInto(t.accum);
}

/**
 * Read an increment's table section and write its rows into the table. The
 * file's checksum is checked only at its end: when it fails, restore reloads
 * another chain from its full base, so rows applied here are overwritten.
 */
function applyIncr(r: HashingReader, e: TableEntry, t: TableState, s: Scratch): void {
  r.skipTo(e.offset);
  const n = r.header(SECTION.incr);
  if (n !== e.stored) throw checksumError(r.path, `incremental section of table ${e.name} holds ${n} rows, manifest says ${e.stored}`);
  s.ensure(n, t.dim);
  const ids = s.ids.subarray(0, n);
  const rows = s.rows.subarray(0, n * t.dim);
  const acc = s.acc.subarray(0, n);
  r.readInto(ids);
  r.pad8();
  r.readInto(rows);
  if (t.accum) r.readInto(acc);
  for (let k = 0; k < n; k++) {
    const id = ids[k]!;
    if (id < 0 || id >= t.rows) throw checksumError(r.path, `table ${e.name}: row id ${id} out of range [0, ${t.rows})`);
  }
  scatterRows(t.weights, rows, ids, n, t.dim);
  if (t.accum) scatterRows(t.accum, acc, ids, n, 1);
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
 * Each version's data file is read in one sequential pass and its sha256 checked;
 * dense arrays and blobs are taken from the last version only.
 * @throws PipelineError `checksum` naming the first bad file; `mismatch` on shapes.
 */
export function loadChain(dir: string, chain: CheckpointManifest[], into: TrainState): Record<string, Blob> {
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
  const s = new Scratch();
  let blobs: Record<string, Blob> = {};
  for (const m of chain) {
    const rel = dataName(m.version);
    const r = new HashingReader(join(dir, rel), fileOf(dir, m, rel));
    try {
      if (m === last) {
        loadDense(r, m, into);
        blobs = loadBlobs(r, m);
      }
      for (let i = 0; i < into.tables.length; i++) {
        if (m.kind === 'full') loadFull(r, m.tables[i]!, into.tables[i]!);
        else applyIncr(r, m.tables[i]!, into.tables[i]!, s);
      }
      r.skipTo(m.bytes);
      r.finish();
    } finally {
      r.close();
    }
  }
  for (const [name, b] of Object.entries(blobs)) {
    const t = into.blobs[name];
    if (t && t.constructor === b.constructor && t.length === b.length) {
      new Uint8Array(t.buffer, t.byteOffset, t.byteLength).set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    }
  }
  return blobs;
}
