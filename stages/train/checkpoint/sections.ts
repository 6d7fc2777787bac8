/**
 * The section layout of a checkpoint data file (see format.ts), written through a
 * {@link SectionSink}: the streaming {@link HashingWriter} (synchronous save), a
 * {@link SizeCounter} (the exact file size, no copies) or an {@link ImageWriter}
 * (the whole file image in a buffer the store owns: the snapshot of a background save).
 */
import { PipelineError } from '../../../pipeline/errors.js';
import { gatherRows } from './delta.js';
import { type BlobEntry, type DenseEntry, FILE_FORMAT_VERSION, FILE_MAGIC, HEADER_BYTES, SECTION, type Section, type TableEntry, blobDtype } from './format.js';
import type { TrainState } from './types.js';

/** Where the sections of a data file go. */
export interface SectionSink {
  /** bytes written so far (the next offset) */
  readonly bytes: number;
  /** the 16-byte section header */
  header(section: Section, count: number): void;
  /** append the bytes of a typed array */
  write(v: ArrayBufferView): void;
  /** append rows ids[0..n) of src (rows×width), in order */
  writeRows(src: Float32Array, ids: Int32Array, n: number, width: number): void;
  /** zero-pad to a multiple of 8 bytes */
  pad8(): void;
}

/** The manifest fields that describe the data file's layout. */
export interface Layout {
  denseOffset: number;
  blobsOffset: number;
  dense: DenseEntry[];
  blobs: BlobEntry[];
  tables: TableEntry[];
}

/**
 * Write the sections of one version: dense, blobs, then per table either the full
 * table (`full`) or rows ids[i][0..stored[i]) with their accumulators.
 */
export function writeSections(w: SectionSink, state: TrainState, full: boolean, ids: readonly Int32Array[], stored: readonly number[]): Layout {
  const dense: DenseEntry[] = [];
  const denseOffset = w.bytes;
  const denseNames = Object.keys(state.dense);
  w.header(SECTION.dense, denseNames.length);
  for (const name of denseNames) {
    const a = state.dense[name]!;
    dense.push({ name, length: a.length, offset: w.bytes });
    w.write(a);
  }
  w.pad8();
  const blobs: BlobEntry[] = [];
  const blobsOffset = w.bytes;
  const blobNames = Object.keys(state.blobs);
  w.header(SECTION.blobs, blobNames.length);
  for (const name of blobNames) {
    const a = state.blobs[name]!;
    w.pad8();
    blobs.push({ name, dtype: blobDtype(a), length: a.length, offset: w.bytes });
    w.write(a);
  }
  const tables: TableEntry[] = [];
  for (let i = 0; i < state.tables.length; i++) {
    const t = state.tables[i]!;
    w.pad8();
    const offset = w.bytes;
    const n = full ? t.rows : stored[i]!;
    if (full) {
      w.header(SECTION.full, n);
      w.write(t.weights);
      if (t.accum) w.write(t.accum);
    } else {
      const id = ids[i]!;
      w.header(SECTION.incr, n);
      w.write(id.subarray(0, n));
      w.pad8();
      w.writeRows(t.weights, id, n, t.dim);
      if (t.accum) w.writeRows(t.accum, id, n, 1);
    }
    tables.push({ name: t.name, rows: t.rows, dim: t.dim, accum: t.accum !== null, stored: n, offset });
  }
  return { denseOffset, blobsOffset, dense, blobs, tables };
}

/** Counts the bytes a layout takes, copying nothing. */
export class SizeCounter implements SectionSink {
  bytes = 0;
  header(): void {
    this.bytes += HEADER_BYTES;
  }
  write(v: ArrayBufferView): void {
    this.bytes += v.byteLength;
  }
  writeRows(_src: Float32Array, _ids: Int32Array, n: number, width: number): void {
    this.bytes += n * width * 4;
  }
  pad8(): void {
    this.bytes = (this.bytes + 7) & ~7;
  }
}

/** Builds the exact file image in `image` (sized by a {@link SizeCounter} pass over the same layout). */
export class ImageWriter implements SectionSink {
  bytes = 0;
  private readonly view: DataView;

  constructor(readonly image: Uint8Array) {
    this.view = new DataView(image.buffer, image.byteOffset, image.byteLength);
  }

  header(section: Section, count: number): void {
    const at = this.reserve(HEADER_BYTES);
    this.view.setUint32(at, FILE_MAGIC, true);
    this.view.setUint32(at + 4, FILE_FORMAT_VERSION, true);
    this.view.setUint32(at + 8, section, true);
    this.view.setUint32(at + 12, count, true);
  }

  write(v: ArrayBufferView): void {
    const at = this.reserve(v.byteLength);
    this.image.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
  }

  writeRows(src: Float32Array, ids: Int32Array, n: number, width: number): void {
    const at = this.reserve(n * width * 4);
    // offsets of row data are multiples of 4 (after an 8-aligned id block or a float block)
    gatherRows(new Float32Array(this.image.buffer, this.image.byteOffset + at, n * width), src, ids, n, width);
  }

  pad8(): void {
    const r = this.bytes & 7;
    if (r !== 0) this.image.fill(0, this.reserve(8 - r), this.bytes);
  }

  private reserve(n: number): number {
    const at = this.bytes;
    if (at + n > this.image.length) throw new PipelineError('internal', `checkpoint image overflow (${at + n} > ${this.image.length} bytes)`);
    this.bytes = at + n;
    return at;
  }
}
