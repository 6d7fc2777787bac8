/**
 * The host↔device boundary. On this machine both sides are the CPU, but the split is kept
 * real so the traffic a GPU trainer would move can be counted:
 *
 *     host    the 26 full embedding tables (`tables`), rows × dim each
 *     device  the dense model (owned by the trainer) and, in fae / slipstream modes, the hot
 *             table (`hot`): hotRows × dim, table t's hot rows at [hotOffsets[t], hotOffsets[t+1])
 *
 * Bytes counted (4-byte floats):
 *
 *     cold / baseline batch  gatherIn += unique rows · dim · 4   (rows gathered to the device)
 *                            gradOut  += unique rows · dim · 4   (sparse gradients back)
 *     hot batch              nothing: reads and updates stay on the device
 *     hot-table sync         hotSync  += rows · (dim + 1 if Adagrad) · 4, each direction
 *
 * Consistency of the two copies of a hot row, synced only where needed: a hot batch marks
 * the rows it updates device-dirty, a cold batch marks the hot rows it updates host-dirty.
 * A cold batch first pulls the device-dirty rows *it reads* to the host; a hot batch first
 * pushes the host-dirty rows *it reads* to the device. An evaluation pulls every device-dirty
 * row, a checkpoint syncs both ways, and Slipstream's snapshots push every host-dirty row.
 * Only dirty rows ever move, each at most once per change.
 */
import { EmbeddingTable, type SparseOptConfig } from './model/embedding.js';
import type { Rng } from '../../pipeline/rng.js';
import { NUM_TABLES } from './data/batch.js';

/** Traffic over the host↔device link, in bytes. */
export interface LinkBytes {
  gatherIn: number;
  gradOut: number;
  hotSync: number;
}

/** Embedding row lookups of the training batches (Device.rows). */
export interface RowCounts {
  hotGathered: number;
  hotUnique: number;
  coldGathered: number;
  coldUnique: number;
}

/** The hot set: hot index → (table, row), as datasets/segregated.ts `readHotMap` gives it. */
export interface HotMap {
  table: Int32Array;
  row: Int32Array;
}

/**
 * Dirty hot rows: a flag per row (bit 1 = dirty, bit 2 = queued) and a queue, so a row is
 * queued once; a row synced early (lazily, by the batch that reads it) is only un-flagged.
 */
class DirtySet {
  readonly flag: Uint8Array;
  readonly list: Int32Array;
  size = 0;
  constructor(n: number) {
    this.flag = new Uint8Array(n);
    this.list = new Int32Array(n);
  }
  add(h: number): void {
    const f = this.flag[h]!;
    if ((f & 2) === 0) this.list[this.size++] = h;
    this.flag[h] = 3;
  }
  isDirty(h: number): boolean {
    return (this.flag[h]! & 1) !== 0;
  }
  /** Mark clean; the row stays queued (skipped at the next flush). */
  remove(h: number): void {
    this.flag[h] = this.flag[h]! & 2;
  }
  clear(): void {
    for (let i = 0; i < this.size; i++) this.flag[this.list[i]!] = 0;
    this.size = 0;
  }
}

/** Host tables, the device's hot table, their consistency and the bytes that cross. */
export class Device {
  /** host: one full table per categorical feature */
  readonly tables: EmbeddingTable[];
  /** device: the concatenated hot table (null in baseline mode) */
  readonly hot: EmbeddingTable | null;
  /** the hot table once per column, as gatherBatch / scatterUpdate want it */
  readonly hotColumns: EmbeddingTable[];
  readonly bytes: LinkBytes = { gatherIn: 0, gradOut: 0, hotSync: 0 };
  /** row lookups of the training batches (duplicates included) and distinct rows per batch, summed */
  readonly rows: RowCounts = { hotGathered: 0, hotUnique: 0, coldGathered: 0, coldUnique: 0 };
  private readonly map: HotMap | null;
  /** per table: row → hot index, or −1 (null in baseline mode); read by the cold store */
  readonly reverse: Int32Array[] | null;
  /** per table: row → last batch stamp that gathered it (for unique-row counts) */
  private readonly stamps: Int32Array[];
  private stamp = 0;
  /** hot index → last hot-batch stamp that read it */
  private readonly hotStamps: Int32Array;
  private readonly deviceDirty: DirtySet | null;
  private readonly hostDirty: DirtySet | null;
  private readonly rowBytes: number;

  /**
   * @param sizes rows per table
   * @param hotMap the hot set (fae / slipstream) or null (baseline)
   * @param shared host tables and hot table in SharedArrayBuffers (parallel workers)
   */
  constructor(sizes: number[], dim: number, opt: SparseOptConfig, hotMap: HotMap | null, shared = false) {
    this.tables = sizes.map((n) => new EmbeddingTable(n, dim, opt, shared));
    this.stamps = sizes.map((n) => new Int32Array(n));
    this.rowBytes = (dim + (opt.kind === 'adagrad' ? 1 : 0)) * 4;
    this.map = hotMap;
    if (hotMap) {
      const H = hotMap.table.length;
      this.hot = new EmbeddingTable(Math.max(1, H), dim, opt, shared);
      this.hotColumns = new Array<EmbeddingTable>(NUM_TABLES).fill(this.hot);
      this.reverse = sizes.map((n) => new Int32Array(n).fill(-1));
      for (let h = 0; h < H; h++) this.reverse[hotMap.table[h]!]![hotMap.row[h]!] = h;
      this.deviceDirty = new DirtySet(H);
      this.hostDirty = new DirtySet(H);
      this.hotStamps = new Int32Array(Math.max(1, H));
    } else {
      this.hotStamps = new Int32Array(0);
      this.hot = null;
      this.hotColumns = [];
      this.reverse = null;
      this.deviceDirty = null;
      this.hostDirty = null;
    }
  }

  /** DLRM init of the host tables (U(±sqrt(1/rows)), table by table), then place the hot rows on the device. */
  init(rng: Rng): void {
    for (const t of this.tables) t.initUniform(rng);
    this.loadHot(true);
  }

  /** Copy every hot row host → device (initial placement, or after a restore: `count` false). */
  loadHot(count: boolean): void {
    if (!this.map || !this.hot) return;
    const H = this.map.table.length;
    for (let h = 0; h < H; h++) this.copyRow(h, false);
    this.deviceDirty!.clear();
    this.hostDirty!.clear();
    if (count) this.bytes.hotSync += H * this.rowBytes;
  }

  /**
   * Before a cold (or baseline) batch: pull the device-dirty hot rows it reads, count the
   * unique rows gathered in and the gradients out, mark the hot rows it will update host-dirty.
   */
  coldBatch(cats: Int32Array, B: number): void {
    const st = ++this.stamp;
    let unique = 0;
    let pulled = 0;
    for (let f = 0; f < NUM_TABLES; f++) {
      const stamps = this.stamps[f]!;
      const rev = this.reverse ? this.reverse[f]! : null;
      for (let b = 0; b < B; b++) {
        const id = cats[b * NUM_TABLES + f]!;
        if (stamps[id] === st) continue;
        stamps[id] = st;
        unique++;
        if (rev === null) continue;
        const h = rev[id]!;
        if (h < 0) continue;
        if (this.deviceDirty!.isDirty(h)) {
          this.copyRow(h, true);
          this.deviceDirty!.remove(h);
          pulled++;
        }
        this.hostDirty!.add(h);
      }
    }
    const dim = this.tables[0]!.dim;
    this.rows.coldGathered += B * NUM_TABLES;
    this.rows.coldUnique += unique;
    this.bytes.gatherIn += unique * dim * 4;
    this.bytes.gradOut += unique * dim * 4;
    this.bytes.hotSync += pulled * this.rowBytes;
  }

  /** Before a hot batch (cats hold hot indices): push the host-dirty rows it reads, mark its rows device-dirty. */
  hotBatch(cats: Int32Array, B: number): void {
    const dd = this.deviceDirty!;
    const hd = this.hostDirty!;
    const n = B * NUM_TABLES;
    const stamps = this.hotStamps;
    const st = ++this.stamp;
    let pushed = 0;
    let unique = 0;
    for (let i = 0; i < n; i++) {
      const h = cats[i]!;
      if (stamps[h] !== st) {
        stamps[h] = st;
        unique++;
      }
      if (hd.isDirty(h)) {
        this.copyRow(h, false);
        hd.remove(h);
        pushed++;
      }
      dd.add(h);
    }
    this.rows.hotGathered += n;
    this.rows.hotUnique += unique;
    this.bytes.hotSync += pushed * this.rowBytes;
  }

  /** A cold store updated hot row h on the device (its copy is the current one): mark it device-dirty. */
  markHotUpdated(h: number): void {
    this.deviceDirty!.add(h);
  }

  /** Evaluation / checkpoint: every device-dirty hot row → host. @returns rows copied */
  syncToHost(): number {
    return this.flush(this.deviceDirty, true);
  }

  /** Slipstream snapshot / checkpoint: every host-dirty hot row → device. @returns rows copied */
  syncToDevice(): number {
    return this.flush(this.hostDirty, false);
  }

  private flush(set: DirtySet | null, toHost: boolean): number {
    if (!set || set.size === 0) return 0;
    let n = 0;
    for (let i = 0; i < set.size; i++) {
      const h = set.list[i]!;
      if (!set.isDirty(h)) continue;
      this.copyRow(h, toHost);
      n++;
    }
    set.clear();
    this.bytes.hotSync += n * this.rowBytes;
    return n;
  }

  /** Both directions (checkpoints): afterwards the two copies agree on every hot row. */
  syncAll(): void {
    this.syncToHost();
    this.syncToDevice();
  }

  /** Copy hot row h between its host row and the device (weights and Adagrad accumulator). */
  private copyRow(h: number, toHost: boolean): void {
    const hot = this.hot!;
    const t = this.tables[this.map!.table[h]!]!;
    const r = this.map!.row[h]!;
    const d = hot.dim;
    if (toHost) {
      t.weights.set(hot.weights.subarray(h * d, h * d + d), r * d);
      if (t.accum && hot.accum) t.accum[r] = hot.accum[h]!;
      t.touched[r >>> 3] = t.touched[r >>> 3]! | (1 << (r & 7));
    } else {
      hot.weights.set(t.weights.subarray(r * d, r * d + d), h * d);
      if (t.accum && hot.accum) hot.accum[h] = t.accum[r]!;
    }
  }
}
