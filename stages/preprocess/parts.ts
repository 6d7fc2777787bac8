/**
 * Part files: the stage writes rows in one pass, before it knows the final ids
 * (frequency threshold) or where the splits start (Kaggle needs the total row
 * count). Rows go to numbered *part* shards of a stream; at the end
 * {@link finalizeStream} turns parts into the split shards: a part that lies
 * inside one split and needs no id remap is renamed, the others are read, cut
 * at the split boundaries, remapped and written again (at most two parts per
 * boundary, or all parts when a threshold is set). The last part is never
 * written as a part: it is cut from memory.
 */
import { mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FileEntry } from '../../pipeline/manifest.js';
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../../datasets/criteo/constants.js';
import type { ShardRef, SplitName } from '../../datasets/preprocessed.js';
import type { ShardColumns } from '../../datasets/shards.js';
// not datasets/shards.ts: it loads apache-arrow, which only a part that must be read back needs
import { columnsIn, decodeTemplate, encodeTemplate as encodeShard, layoutFor, sealInPlace, type ShardLayout } from '../../datasets/shard-layout.js';
import type { PartWriter } from './part-writer.js';
import type { SplitRange } from './split.js';

/** One written part: rows [start, start + rows) of its stream. */
export interface PartFile {
  abs: string;
  start: number;
  rows: number;
  positives: number;
  bytes: number;
  /** `xxh64:<hex>` */
  hash: string;
}

function countPositives(label: Int8Array, n: number): number {
  let positives = 0;
  for (let r = 0; r < n; r++) positives += label[r]!;
  return positives;
}

/** Rows of one output stream, buffered into fixed-size part shards. */
export class PartStream {
  readonly parts: PartFile[] = [];
  /** rows in the current (unwritten) part */
  rows = 0;
  /** rows in written parts */
  written = 0;
  /** part writes in flight, oldest first (at most a couple: the caller awaits {@link PartStream.settle}) */
  private readonly writes: Promise<void>[] = [];
  /**
   * The current part's columns: views into {@link PartStream.buf} at the shard template's offsets,
   * so a full part is sealed and written without a copy. Replaced at every flush (read them afresh).
   */
  label!: Int8Array;
  dense!: Float32Array[];
  cats!: Int32Array[];
  /** the shard bytes the current part is built in (a full part's file, once sealed) */
  private buf!: Uint8Array;
  private readonly layout: ShardLayout;

  /**
   * @param dir directory for the part files
   * @param name stream name used in part file names
   * @param capacity rows per part
   * @param writer hashes and writes the parts on its own thread
   */
  constructor(
    private readonly dir: string,
    private readonly name: string,
    readonly capacity: number,
    private readonly writer: PartWriter,
  ) {
    this.layout = layoutFor(capacity);
    this.nextBuffer();
  }

  /** Build the next part in a buffer the writer handed back (its pages mapped), else a new one. */
  private nextBuffer(): void {
    this.buf = this.writer.takeBuffer(this.layout.bytes) ?? new Uint8Array(this.layout.bytes);
    ({ label: this.label, dense: this.dense, cats: this.cats } = columnsIn(this.buf, this.layout));
  }

  get total(): number {
    return this.written + this.rows;
  }

  /**
   * Append rows [from, from + n) of staged columns; writes parts as they fill.
   * @param n rows; the caller passes at most the room left (`capacity - rows`)
   */
  appendRange(label: Int8Array, dense: Float32Array[], cats: Int32Array[], from: number, n: number): void {
    const at = this.rows;
    this.label.set(label.subarray(from, from + n), at);
    for (let f = 0; f < INT_FEATURE_COUNT; f++) this.dense[f]!.set(dense[f]!.subarray(from, from + n), at);
    for (let f = 0; f < CAT_FEATURE_COUNT; f++) this.cats[f]!.set(cats[f]!.subarray(from, from + n), at);
    this.rows += n;
    if (this.rows === this.capacity) this.flush();
  }

  /**
   * Count `n` rows that the caller wrote straight into `label`, `dense` and
   * `cats` at [rows, rows + n) (no staging copy); writes the part when full.
   */
  commitRows(n: number): void {
    this.rows += n;
    if (this.rows === this.capacity) this.flush();
  }

  /** Append a single staged row `r`. */
  appendRow(label: Int8Array, dense: Float32Array[], cats: Int32Array[], r: number): void {
    const at = this.rows;
    this.label[at] = label[r]!;
    for (let f = 0; f < INT_FEATURE_COUNT; f++) this.dense[f]![at] = dense[f]![r]!;
    for (let f = 0; f < CAT_FEATURE_COUNT; f++) this.cats[f]![at] = cats[f]![r]!;
    this.rows = at + 1;
    if (this.rows === this.capacity) this.flush();
  }

  /**
   * Wait for in-flight writes down to `maxInFlight`; rethrows a failed write.
   * Call between batches so encoded parts do not pile up in memory.
   */
  async settle(maxInFlight = 0): Promise<void> {
    while (this.writes.length > maxInFlight) await this.writes.shift();
  }

  /** Part writes not yet awaited through {@link PartStream.settle}. */
  get inFlight(): number {
    return this.writes.length;
  }

  /** The rows of the current (unwritten) part, as views. */
  current(): ShardColumns {
    const n = this.rows;
    return { rows: n, label: this.label.subarray(0, n), dense: this.dense.map((a) => a.subarray(0, n)), cats: this.cats.map((a) => a.subarray(0, n)) };
  }

  /** Wait for every in-flight write, ignoring failures (used when the run is failing anyway). */
  async quiesce(): Promise<void> {
    await Promise.allSettled(this.writes.splice(0));
  }

  /**
   * Encode the current part (if any rows) and start hashing + writing it on the
   * writer thread; its `hash` is filled in when the write finishes.
   */
  flush(): void {
    const n = this.rows;
    if (n === 0) return;
    mkdirSync(this.dir, { recursive: true });
    const abs = join(this.dir, `${this.name}-${String(this.parts.length).padStart(5, '0')}.arrow`);
    const cols = this.current();
    const positives = countPositives(cols.label, n);
    // a full part is already in place: seal it; a short one (never, in the stage's use) is copied out
    const bytes = n === this.capacity ? sealInPlace(this.buf, this.layout) : encodeShard(cols);
    const part: PartFile = { abs, start: this.written, rows: n, bytes: bytes.byteLength, hash: '', positives };
    this.parts.push(part);
    this.written += n;
    const w = this.writer.write(abs, bytes).then((h) => {
      part.hash = h;
    });
    w.catch(() => {}); // rethrown by settle(); never an unhandled rejection meanwhile
    this.writes.push(w);
    this.rows = 0;
    if (n === this.capacity) this.nextBuffer(); // this.buf went to the writer thread
  }

  /**
   * Hash, write and fsync a finished file on the writer thread (bytes handed over).
   * @returns its manifest entry once durable
   */
  async writeFile(outDir: string, rel: string, bytes: Uint8Array): Promise<FileEntry> {
    const n = bytes.byteLength;
    return { path: rel, bytes: n, hash: await this.writer.write(join(outDir, rel), bytes) };
  }
}

/** Output of finalizing: shard refs per split and file entries for the manifest. */
export interface FinalShards {
  shards: Record<SplitName, ShardRef[]>;
  positives: Record<SplitName, number>;
  files: FileEntry[];
  /** shard writes in flight on the writer thread (their entries in `files` lack the hash until done) */
  writes: Promise<void>[];
}

export function emptyFinalShards(): FinalShards {
  return { shards: { train: [], val: [], test: [] }, positives: { train: 0, val: 0, test: 0 }, files: [], writes: [] };
}

/** Wait for all of `writes` (even after a failure), then rethrow the first failure. */
export async function settleAll(writes: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(writes)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Wait for every write of `acc` (all of them, even after a failure), then rethrow the first failure. */
export function settleWrites(acc: FinalShards): Promise<void> {
  return settleAll(acc.writes.splice(0));
}

/**
 * Turn a stream's parts into split shards under `outDir/shards/`.
 * @param ranges contiguous split ranges over the stream's rows
 * @param remap in-place id remap for categorical columns, or null
 */
export async function finalizeStream(
  stream: PartStream,
  ranges: SplitRange[],
  outDir: string,
  remap: ((cats: Int32Array[]) => void) | null,
  acc: FinalShards,
): Promise<void> {
  await stream.settle();
  const shardDir = join(outDir, 'shards');
  mkdirSync(shardDir, { recursive: true });
  const nextShard = (split: SplitName): string => `shards/${split}-${String(acc.shards[split].length).padStart(5, '0')}.arrow`;
  const add = (split: SplitName, rows: number, positives: number, entry: FileEntry): void => {
    acc.shards[split].push({ file: entry.path, rows });
    acc.positives[split] += positives;
    acc.files.push(entry);
  };
  // pieces are written on the writer thread while this one goes on; their entries keep their
  // place in acc.files and get the checksum when the write is done (acc.writes: await settleWrites)
  const pending = acc.writes;
  for (const part of stream.parts) {
    const a = part.start;
    const b = part.start + part.rows;
    const hits = ranges.filter((r) => r.end > a && r.start < b && r.end > r.start);
    const whole = hits.length === 1 && hits[0]!.start <= a && hits[0]!.end >= b;
    if (whole && !remap) {
      const split = hits[0]!.split;
      const rel = nextShard(split);
      renameSync(part.abs, join(outDir, rel));
      add(split, part.rows, part.positives, { path: rel, bytes: part.bytes, hash: part.hash });
      continue;
    }
    // a part this run wrote: its columns are views at the template's offsets (no apache-arrow)
    const cols = decodeTemplate(readFileSync(part.abs), part.rows) ?? (await import('../../datasets/shards.js')).readShardFile(part.abs);
    if (remap) remap(cols.cats);
    writePieces(cols, a, hits);
    rmSync(part.abs, { force: true });
  }
  // the last, unwritten part is cut straight from memory
  if (stream.rows > 0) {
    const a = stream.written;
    const cols = stream.current();
    if (remap) remap(cols.cats);
    writePieces(
      cols,
      a,
      ranges.filter((r) => r.end > a && r.start < a + cols.rows && r.end > r.start),
    );
  }

  /** Write the parts of `cols` (rows [a, a + rows) of the stream) that fall in each range. */
  function writePieces(cols: ShardColumns, a: number, hits: SplitRange[]): void {
    for (const h of hits) {
      const s = Math.max(h.start, a) - a;
      const e = Math.min(h.end, a + cols.rows) - a;
      const piece: ShardColumns = {
        rows: e - s,
        label: cols.label.subarray(s, e),
        dense: cols.dense.map((c) => c.subarray(s, e)),
        cats: cols.cats.map((c) => c.subarray(s, e)),
      };
      const rel = nextShard(h.split);
      const bytes = encodeShard(piece);
      const entry: FileEntry = { path: rel, bytes: bytes.byteLength, hash: '' };
      add(h.split, piece.rows, countPositives(piece.label, piece.rows), entry);
      const w = stream.writeFile(outDir, rel, bytes).then((e) => {
        entry.hash = e.hash;
      });
      w.catch(() => {}); // rethrown by settleWrites
      pending.push(w);
    }
  }
}
