/**
 * The redis backend of the cold store. Cold rows live in Redis (layout.ts); the device's hot
 * table stays in process and is the authoritative copy of the hot rows (a cold batch reads
 * and updates them there; hot batches never call the store).
 *
 * One cold batch j, with the prefetching stream (prefetch.ts) one batch ahead:
 *
 *     next(j)     copy j to the trainer's batch; read j+1; plan j+1 and send its reads
 *     ready(j)    wait until ≤ maxInFlight batch updates are outstanding and j's reads are back;
 *                 rows j shares with j−1 take j−1's values after its update (j's reads were sent
 *                 before j−1's update, so those are the only rows they can miss: Redis runs one
 *                 connection's commands in order, and each key lives on one node)
 *     gather(j)   hot rows from the hot table, cold rows from the reply → out
 *     update(j)   gradients summed per unique row; hot rows updated in process; cold rows updated
 *                 locally (for j+1's patch) and sent to hc_update, one Function call per shard,
 *                 not awaited, with the rows as read and as computed: the server sets a row it
 *                 still holds as read to the computed bytes, and applies the gradient to any row
 *                 another writer changed in between (counted as conflicts)
 *
 * barrier() awaits every update (before evaluation and checkpoints). One writer ends with the
 * memory backend's parameters bit for bit; several writers (the Function applies each update
 * atomically) lose none, only see each other's updates a batch late.
 *
 * Checkpoints: barrier, then the cold rows are read into device.tables (calloc'd, so untouched
 * rows cost no memory until then) — all of them at the first checkpoint, only the rows touched
 * since at later ones — and the checkpoint is taken as with the memory backend; hot rows reach
 * device.tables through Device.syncToHost as always. A restore writes device.tables back to the
 * store.
 */
import type { Rng } from '../../../pipeline/rng.js';
import { NUM_TABLES } from '../data/batch.js';
import type { Device } from '../device.js';
import type { SparseOptConfig } from '../model/embedding.js';
import { BatchRows, KeyCache } from './batch-rows.js';
import { connectStore, storeError, type ConnectOptions, type StoreClient } from './connect.js';
import type { StoreAddress } from './layout.js';
import { PrefetchStream } from './prefetch.js';
import { ReadAhead } from './read-ahead.js';
import { RedisTables } from './redis-tables.js';
import type { BatchSource, ColdStore, EvalGather, StoreReport } from './types.js';

/** Evaluation batches whose rows are requested ahead of the one being scored. */
const EVAL_DEPTH = 3;

export interface RedisStoreOptions {
  address: StoreAddress;
  prefix: string;
  /** the run's store fingerprint (data, config, dim) */
  fingerprint: string;
  sizes: number[];
  dim: number;
  opt: SparseOptConfig;
  batchSize: number;
  /** evaluation batch size (the read-ahead's buffers). @default batchSize */
  evalBatchSize?: number;
  /** batch updates outstanding at most before a cold step waits. @default 4 */
  maxInFlight?: number;
  /** false: send gradients only, so the server applies every update with its own arithmetic (tests). @default true */
  fastPath?: boolean;
  connect?: ConnectOptions;
  /** one-line messages */
  log?: (msg: string) => void;
}

export class RedisColdStore implements ColdStore {
  readonly kind = 'redis' as const;
  private client: StoreClient | null = null;
  private tables: RedisTables | null = null;
  private readonly keys: KeyCache;
  /** rotating batches: the one being trained, its predecessor (patch source), the prefetched one (more while a dropped prefetch is still in flight) */
  private readonly ring: BatchRows[];
  private readonly queue: BatchRows[] = [];
  private cur: BatchRows | null = null;
  private prev: BatchRows | null = null;
  /** evaluation batches read ahead (EVAL_DEPTH of them, and the one being gathered) */
  private readonly evalRing: BatchRows[];
  private readonly evalQueue: BatchRows[] = [];
  private readonly inflight: Promise<void>[] = [];
  private failure: unknown = null;
  private waitSec = 0;
  private initSec = 0;
  private lookups = 0;
  private lookupsHot = 0;
  private readonly maxInFlight: number;
  /** device.tables hold every cold row as of the last checkpoint (or restore) */
  private materialized = false;
  private ckRows: BatchRows | null = null;

  constructor(private readonly device: Device, private readonly o: RedisStoreOptions) {
    this.keys = new KeyCache(o.prefix, o.sizes.length);
    this.ring = [0, 1, 2].map(() => new BatchRows(o.dim, NUM_TABLES));
    this.evalRing = Array.from({ length: EVAL_DEPTH + 1 }, () => new BatchRows(o.dim, NUM_TABLES));
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 4);
  }

  private get t(): RedisTables {
    return this.tables!;
  }

  /** Connect, refuse another run's store, create it (lazy: no row written); the hot rows' initial values go to the device. */
  async open(rng: Rng): Promise<void> {
    const o = this.o;
    this.client = await connectStore(o.address, o.connect);
    this.tables = new RedisTables(this.client, o.address, o.prefix, { fingerprint: o.fingerprint, dim: o.dim, opt: o.opt, sizes: o.sizes });
    await this.t.check();
    const t0 = performance.now();
    const ri = await this.t.create(rng, this.device.hot && this.device.reverse ? this.device.reverse.reduce((a, rv) => a + rv.reduce((n, h) => n + (h >= 0 ? 1 : 0), 0), 0) : 0);
    // the hot rows' initial values straight onto the device (the host tables stay untouched)
    const dev = this.device;
    const hot = dev.hot;
    const rev = dev.reverse;
    if (hot && rev) {
      const d = o.dim;
      let H = 0;
      for (let t = 0; t < rev.length; t++) {
        const rv = rev[t]!;
        for (let r = 0; r < rv.length; r++) {
          const h = rv[r]!;
          if (h < 0) continue;
          ri.row(t, r, hot.weights, h * d, false);
          if (hot.accum) hot.accum[h] = o.opt.initAccum ?? 0;
          H++;
        }
      }
      dev.bytes.hotSync += H * this.t.rowBytes; // as Device.loadHot(true) counts the placement
    }
    this.initSec += (performance.now() - t0) / 1000;
    o.log?.(`train: cold store redis ${o.address.spec} (prefix '${o.prefix}'): ${o.sizes.reduce((a, b) => a + b, 0)} rows, created in ${this.initSec.toFixed(1)}s (rows are written when first trained; never-written rows read as their seeded initial values)`);
  }

  wrap(stream: BatchSource): BatchSource {
    return new PrefetchStream(stream, this.o.batchSize, (cats, B) => this.prefetch(cats, B), () => this.dropPrefetched());
  }

  /** Plan a batch read ahead and send its reads. */
  private prefetch(cats: Int32Array, B: number): void {
    const rows = this.freeRows(this.ring, (r) => r === this.cur || r === this.prev || this.queue.includes(r));
    rows.plan(cats, B, this.device.reverse, this.o.sizes, this.keys);
    rows.pending = this.fetch(rows, 'prefetching a cold batch');
    rows.pending.catch(() => undefined); // awaited in ready()
    this.queue.push(rows);
  }

  private fetch(rows: BatchRows, what: string): Promise<void> {
    const nf = this.t.nf;
    const init = this.t.rowInit!;
    rows.inFlight = true;
    return Promise.all(rows.requests.map(async (q) => {
      try {
        rows.fill(q, await this.t.readRows(q), nf, init);
      } catch (e) {
        throw storeError(this.o.address, what, e);
      }
    })).then(() => undefined).finally(() => {
      rows.inFlight = false;
    });
  }

  /** A batch's row buffers from `ring` that nothing uses or still reads into (grown when none is free). */
  private freeRows(ring: BatchRows[], busy: (r: BatchRows) => boolean): BatchRows {
    let rows = ring.find((r) => !r.inFlight && !busy(r));
    if (!rows) ring.push((rows = new BatchRows(this.o.dim, NUM_TABLES)));
    return rows;
  }

  /** A new epoch (or the end): prefetched batches are not trained. */
  private dropPrefetched(): void {
    this.queue.length = 0;
  }

  async ready(): Promise<void> {
    if (this.failure) throw this.failure;
    const t0 = performance.now();
    while (this.inflight.length >= this.maxInFlight) await this.inflight.shift();
    const rows = this.queue.shift();
    if (!rows) throw storeError(this.o.address, 'starting a cold batch', new Error('no prefetched batch (the cold stream was not wrapped)'));
    await rows.pending;
    if (this.failure) throw this.failure;
    this.waitSec += (performance.now() - t0) / 1000;
    // rows shared with the previous batch: its reads went out before that batch's update
    const p = this.prev;
    if (p) {
      const s = rows.stride;
      for (let u = 0; u < rows.U; u++) {
        if (rows.uHot[u]! >= 0) continue;
        const j = p.find(rows.uT[u]!, rows.uR[u]!);
        if (j >= 0) {
          rows.vals.set(p.vals.subarray(j * s, j * s + s), u * s);
          rows.fresh[u] = 0; // written by that update
        }
      }
    }
    this.cur = rows;
  }

  gather(cats: Int32Array, B: number, out: Float32Array): void {
    const rows = this.cur!;
    if (rows.lookups !== B * NUM_TABLES || rows.local.length < B * NUM_TABLES) throw storeError(this.o.address, 'gathering a cold batch', new Error('the prefetched batch is not the trained one'));
    rows.fillHot(this.device.hot);
    rows.gather(B, out);
    this.lookups += rows.lookups;
    this.lookupsHot += rows.hot;
    // counted work, as Device.coldBatch counts it for the memory backend: lookups and distinct (table, row) pairs
    this.device.rows.coldGathered += rows.lookups;
    this.device.rows.coldUnique += rows.U;
    const bytes = rows.U * this.o.dim * 4; // as Device.coldBatch counts the memory backend's link
    this.device.bytes.gatherIn += bytes;
    this.device.bytes.gradOut += bytes;
  }

  update(cats: Int32Array, B: number, grad: Float32Array): void {
    const rows = this.cur!;
    rows.applyStep(B, grad, this.o.opt, this.device);
    const nf = this.t.nf;
    const fast = this.o.fastPath ?? true;
    const sent = Promise.all(rows.requests.map((q) => this.t.updateRows(q, rows.grads(q), rows.rowsOf(q, rows.before, nf), rows.freshOf(q), fast ? rows.rowsOf(q, rows.vals, nf) : undefined))).then(
      () => undefined,
      (e: unknown) => {
        this.failure ??= storeError(this.o.address, 'applying a batch update', e);
      },
    );
    this.inflight.push(sent);
    this.prev = rows;
    this.cur = null;
  }

  countHot(n: number): void {
    this.lookups += n;
    this.lookupsHot += n;
  }

  async barrier(): Promise<void> {
    const t0 = performance.now();
    while (this.inflight.length > 0) await this.inflight.shift();
    this.waitSec += (performance.now() - t0) / 1000;
    if (this.failure) throw this.failure;
  }

  /**
   * Evaluation rows through the store, read ahead: the evaluator reads its split through
   * `wrap` (EVAL_DEPTH batches ahead) and each batch's cold rows are requested as soon as it is
   * read, so the round trips overlap the scoring of the batches before it. The caller has
   * barriered (train.ts evaluate()): no update is in flight, the rows read are the current ones.
   * Without `wrap` (or a batch that was not announced) a gather fetches its rows itself.
   */
  evalSource(): EvalGather {
    const gather = async (cats: Int32Array, B: number, out: Float32Array): Promise<void> => {
      let rows = this.evalQueue.shift();
      if (!rows || rows.lookups < B * NUM_TABLES) { // (a split cut at maxRows gathers a prefix of the batch read)
        this.evalQueue.length = 0;
        await this.barrier();
        rows = this.freeRows(this.evalRing, () => false);
        rows.plan(cats, B, this.device.reverse, this.o.sizes, this.keys);
        rows.pending = this.fetch(rows, 'reading evaluation rows');
      }
      const t0 = performance.now();
      await rows.pending;
      this.waitSec += (performance.now() - t0) / 1000;
      rows.fillHot(this.device.hot);
      rows.gather(B, out);
    };
    return Object.assign(gather, {
      wrap: (stream: BatchSource): BatchSource => new ReadAhead(stream, this.o.evalBatchSize ?? this.o.batchSize, EVAL_DEPTH, (cats, B) => {
        if (this.inflight.length > 0 && !this.failure) this.failure = storeError(this.o.address, 'reading evaluation rows', new Error('evaluation started with updates in flight (no barrier)'));
        const rows = this.freeRows(this.evalRing, (r) => this.evalQueue.includes(r));
        rows.plan(cats, B, this.device.reverse, this.o.sizes, this.keys);
        rows.pending = this.fetch(rows, 'reading evaluation rows');
        rows.pending.catch(() => undefined); // awaited in gather
        this.evalQueue.push(rows);
      }, () => {
        this.evalQueue.length = 0;
      }),
    });
  }

  /**
   * Barrier, then the store's cold rows into device.tables: all of them the first time (and
   * after nothing was materialised), afterwards only the touched ones — a row untouched since
   * the last checkpoint holds there what the store holds (touched bits are set by every cold
   * update and cleared only for rows a checkpoint stored).
   */
  async beforeCheckpoint(): Promise<void> {
    await this.barrier();
    const t0 = performance.now();
    if (this.materialized) await this.readTouched();
    else await this.readEverything();
    this.materialized = true;
    this.waitSec += (performance.now() - t0) / 1000;
  }

  /** Touched cold rows of device.tables re-read from the store. */
  private async readTouched(): Promise<void> {
    const dev = this.device;
    const rev = dev.reverse;
    const d = this.o.dim;
    let ts: Int32Array = new Int32Array(1024);
    let rs: Int32Array = new Int32Array(1024);
    let n = 0;
    for (let t = 0; t < dev.tables.length; t++) {
      const tab = dev.tables[t]!;
      const rv = rev ? rev[t]! : null;
      const bits = tab.touched;
      for (let byte = 0; byte < bits.length; byte++) {
        const b = bits[byte]!;
        if (b === 0) continue;
        for (let k = 0; k < 8; k++) {
          if ((b & (1 << k)) === 0) continue;
          const r = byte * 8 + k;
          if (r >= tab.rows || (rv && rv[r]! >= 0)) continue;
          if (n === ts.length) {
            const grow = (a: Int32Array): Int32Array => { const x = new Int32Array(a.length * 2); x.set(a); return x; };
            ts = grow(ts);
            rs = grow(rs);
          }
          ts[n] = t;
          rs[n++] = r;
        }
      }
    }
    if (n === 0) return;
    const rows = (this.ckRows ??= new BatchRows(d, NUM_TABLES));
    rows.planRows(ts, rs, n, this.keys);
    await this.fetch(rows, 'reading the touched rows for a checkpoint');
    const s = rows.stride;
    for (let u = 0; u < n; u++) {
      const tab = dev.tables[rows.uT[u]!]!;
      const r = rows.uR[u]!;
      tab.weights.set(rows.vals.subarray(u * s, u * s + d), r * d);
      if (tab.accum) tab.accum[r] = rows.vals[u * s + d]!;
    }
  }

  /** Every cold row of device.tables read from the store. */
  private async readEverything(): Promise<void> {
    const dev = this.device;
    const rev = dev.reverse;
    const d = this.o.dim;
    const nf = this.t.nf;
    await this.t.readAll((t, r0, n, vals) => {
      const tab = dev.tables[t]!;
      const rv = rev ? rev[t]! : null;
      for (let i = 0; i < n; i++) {
        if (rv && rv[r0 + i]! >= 0) continue; // the device's copy is the current one
        tab.weights.set(vals.subarray(i * nf, i * nf + d), (r0 + i) * d);
        if (tab.accum) tab.accum[r0 + i] = vals[i * nf + d]!;
      }
    });
    // the host tables never held the hot rows (placed on the device at open): every one from there
    const hot = dev.hot;
    if (hot && rev) {
      for (let t = 0; t < rev.length; t++) {
        const rv = rev[t]!;
        const tab = dev.tables[t]!;
        for (let r = 0; r < rv.length; r++) {
          const h = rv[r]!;
          if (h < 0) continue;
          tab.weights.set(hot.weights.subarray(h * d, h * d + d), r * d);
          if (tab.accum && hot.accum) tab.accum[r] = hot.accum[h]!;
        }
      }
    }
  }

  async afterRestore(): Promise<void> {
    await this.barrier();
    const t0 = performance.now();
    const dev = this.device;
    const d = this.o.dim;
    const nf = this.t.nf;
    await this.t.writeAll((t, r0, n, out) => {
      const tab = dev.tables[t]!;
      for (let i = 0; i < n; i++) {
        out.set(tab.weights.subarray((r0 + i) * d, (r0 + i) * d + d), i * nf);
        if (tab.accum) out[i * nf + d] = tab.accum[r0 + i]!;
      }
    });
    this.queue.length = 0;
    this.prev = null;
    this.cur = null;
    this.materialized = true; // device.tables = the restored checkpoint = the store now
    this.initSec += (performance.now() - t0) / 1000;
  }

  report(): StoreReport {
    const c = this.tables?.counters ?? { roundTrips: 0, rowsRead: 0, rowsWritten: 0, bytesRead: 0, bytesWritten: 0, conflicts: 0 };
    return {
      kind: 'redis', address: this.o.address.spec, prefix: this.o.prefix, ...c, waitSec: this.waitSec, initSec: this.initSec,
      lookups: this.lookups, lookupsHot: this.lookupsHot, hotShare: this.lookups > 0 ? this.lookupsHot / this.lookups : 0,
    };
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.inflight);
    this.inflight.length = 0;
    const c = this.client;
    this.client = null;
    if (c) await c.quit().catch(() => c.disconnect());
  }
}
