/**
 * One process's share of a global step over the Redis tier (transport redis). Every rank —
 * the coordinator (rank 0) and each `hotcold worker --join` — runs the same code on the same
 * global batch (each read from its own copy of the data):
 *
 *     split (split.ts) → my slice: read its cold rows (hc_read), hot rows from my replica
 *     → forward → backward, gradients × B_r/B → per distinct row: hot rows to the hot list,
 *     cold rows by owner (shared.ts ownerOf: the graph partition's, else a hash)
 *     → post: loss, dense gradient, hot list ('all'), each owner's cold rows (as read + gradient) → barrier
 *     → cold rows I own: the K ranks' gradients summed in rank order, the row-wise optimizer once per
 *       distinct row (applyRow, the trainer's arithmetic) → hc_update with the rows as read and as
 *       computed (the store's Function; one writer per row, so no conflict and nothing lost), sent
 *       on a write connection and not awaited until the next step's closing barrier
 *     → dense: the K gradients summed in rank order, one optimizer step (identical on every rank)
 *     → hot (bound 0): the K hot lists summed in rank order, applied by every rank to its replica
 *       (identical replicas); bound s > 0: my own list to my replica, reconciled every s steps
 *     → closing barrier: the previous step's writes are awaited first; the owners post the new
 *       values of the rows they applied now, which patch every rank's next reads (this step's
 *       writes may still be in flight, so the store alone could serve a stale row)
 *
 * A row a step reads is one the previous step updated (from the patch) or one whose write was
 * awaited before the previous closing barrier (from the store): every rank reads the same
 * values, so a poster's "row as read" is the owner's too, and one owner per row on one write
 * connection keeps each row's writes in order. The result is the one-process step on the merged batch up to float
 * summation order (per row: per slice, then over ranks), as in the thread mode.
 */
import { PipelineError } from '../../../../pipeline/errors.js';
import type { TrainConfig } from '../../config.js';
import { NUM_DENSE, NUM_TABLES, type Batch } from '../../data/batch.js';
import { gatherBatch, type EmbeddingTable } from '../../model/embedding.js';
import type { Trainer } from '../../trainer.js';
import { applyRow, BatchRows, KeyCache } from '../../store/batch-rows.js';
import type { RedisTables } from '../../store/redis-tables.js';
import { storeError } from '../../store/connect.js';
import { ownerOf, HOT_TABLE, type SharedLayout } from '../shared.js';
import { splitBatch, type Splitter } from '../split.js';
import { aligned, bytes, type Link } from './link.js';

/** Per-id gradient sums in first-seen order (reusable, no allocation per row). */
export class IdAcc {
  ids = new Int32Array(64);
  acc = new Float32Array(64);
  n = 0;
  private keys = new Int32Array(128).fill(-1);
  private slot = new Int32Array(128);
  private mask = 127;
  constructor(private readonly d: number) {
    this.acc = new Float32Array(64 * d);
  }
  clear(): void {
    if (this.n > 0) this.keys.fill(-1);
    this.n = 0;
  }
  /** acc[id] += g[g0 .. g0 + d) */
  add(id: number, g: Float32Array, g0: number): number {
    if (2 * (this.n + 1) > this.keys.length) this.grow();
    const d = this.d;
    let h = (Math.imul(id, 0x9e3779b1) >>> 7) & this.mask;
    for (;;) {
      const k = this.keys[h]!;
      if (k === id) break;
      if (k === -1) {
        const u = this.n++;
        if (u >= this.ids.length) this.growLists();
        this.keys[h] = id;
        this.slot[h] = u;
        this.ids[u] = id;
        this.acc.fill(0, u * d, u * d + d);
        break;
      }
      h = (h + 1) & this.mask;
    }
    const a0 = this.slot[h]! * d;
    const acc = this.acc;
    for (let c = 0; c < d; c++) acc[a0 + c] = acc[a0 + c]! + g[g0 + c]!;
    return this.slot[h]!;
  }
  private growLists(): void {
    const ids = new Int32Array(this.ids.length * 2);
    ids.set(this.ids);
    this.ids = ids;
    const acc = new Float32Array(this.acc.length * 2);
    acc.set(this.acc);
    this.acc = acc;
  }
  private grow(): void {
    const cap = this.keys.length * 2;
    this.keys = new Int32Array(cap).fill(-1);
    this.slot = new Int32Array(cap);
    this.mask = cap - 1;
    for (let u = 0; u < this.n; u++) {
      const id = this.ids[u]!;
      let h = (Math.imul(id, 0x9e3779b1) >>> 7) & this.mask;
      while (this.keys[h] !== -1) h = (h + 1) & this.mask;
      this.keys[h] = id;
      this.slot[h] = u;
    }
  }
}

/** Tests: delay this process's owner writes (the next step's reads then find the store behind and must take the owners' posted values). */
export const remoteTestHooks = { writeDelayMs: 0 };

/** Counters of one rank (summed over ranks by the coordinator). */
export interface RankStats {
  denseBytes: number;
  sparseBytes: number;
  hotBytes: number;
  remoteRows: number;
  hotLookups: number;
  staleSum: number;
  staleMax: number;
  reconciles: number;
  reconciledRows: number;
  conflictRows: number;
  /** distinct rows this rank applied as their owner (cold) and hot rows in the merged hot lists */
  coldApplied: number;
}

export const STAT_KEYS: (keyof RankStats)[] = ['denseBytes', 'sparseBytes', 'hotBytes', 'remoteRows', 'hotLookups', 'staleSum', 'staleMax', 'reconciles', 'reconciledRows', 'conflictRows', 'coldApplied'];


/** Header of a rank's 'all' post (Float64). */
const H_LOSS = 0;
const H_BK = 1;
const H_NHOT = 2;
const H_STATS = 3;
const HEADER = H_STATS + STAT_KEYS.length;

/** A decoded cold list: rows (t, r) with their values as read, fresh flags and gradients. */
interface ColdList { n: number; t: Int32Array; r: Int32Array; fresh: Int32Array; before: Float32Array; grad: Float32Array }

export interface RankSetup {
  cfg: TrainConfig;
  trainer: Trainer;
  link: Link;
  /** the store's tables on the connection the slices' reads use */
  tables: RedisTables;
  /** the same tables on their own connection for the owners' writes (so reads and barriers never queue behind them) */
  writer: RedisTables;
  owners: Uint8Array[] | null;
  splitter: Splitter;
  /** rank 0: mark the tables' touched bits and the hot rows it updates (checkpoints, evaluation) */
  coordinator: boolean;
}

export class RankEngine {
  readonly stats: RankStats = { denseBytes: 0, sparseBytes: 0, hotBytes: 0, remoteRows: 0, hotLookups: 0, staleSum: 0, staleMax: 0, reconciles: 0, reconciledRows: 0, conflictRows: 0, coldApplied: 0 };
  /** every rank's counters as of its last post (this rank's own are live) */
  readonly peerStats: RankStats[];
  /** the step's distinct rows over the merged batch (rank 0 counts them for the Device) */
  private readonly K: number;
  private readonly r: number;
  private readonly d: number;
  private readonly P: number;
  private readonly L: SharedLayout;
  private readonly rows: BatchRows;
  private readonly own: BatchRows;
  private readonly keys: KeyCache;
  private readonly emb: Float32Array;
  private readonly eg: Float32Array;
  private readonly gbuf: Float32Array;
  private readonly gsum: Float32Array;
  private readonly mine: IdAcc;
  private readonly merged: IdAcc;
  private readonly pairKey: Map<number, number> = new Map();
  private readonly hot: EmbeddingTable | null;
  /** hotBound > 0: the last reconciled hot table (identical on every rank) and my dirty rows */
  private readonly S: Float32Array | null;
  private readonly SA: Float32Array | null;
  private readonly dirty: Uint8Array;
  private dirtyList: Int32Array;
  private nDirty = 0;
  private lastReconcile = 0;
  private readonly hotBound: number;
  private readonly denseBound: number;
  /** the last cold step's writes (awaited before the next step's closing barrier) */
  private pending: Promise<void> | null = null;
  /** rows the last step updated → their new values (nf floats at patchVals[i·nf]): its writes may not have landed yet */
  private patch = new Map<number, number>();
  private patchVals = new Float32Array(0);

  constructor(private readonly o: RankSetup) {
    const { cfg, trainer, link } = o;
    this.K = link.K;
    this.r = link.rank;
    this.d = cfg.model.dim;
    this.P = trainer.model.params.length;
    const cap = cfg.train.batchSize;
    const K = this.K;
    const dev = trainer.device;
    this.L = {
      K, cap, sizes: new Int32Array(K), labels: new Float32Array(K * cap), dense: new Float32Array(K * cap * NUM_DENSE),
      cats: new Int32Array(K * cap * NUM_TABLES), reverse: dev.reverse,
    } as unknown as SharedLayout;
    this.rows = new BatchRows(this.d, NUM_TABLES);
    this.own = new BatchRows(this.d, NUM_TABLES);
    this.keys = new KeyCache(o.tables.prefix, NUM_TABLES);
    this.emb = new Float32Array(cap * NUM_TABLES * this.d);
    this.eg = new Float32Array(cap * NUM_TABLES * this.d);
    this.gbuf = new Float32Array(this.P);
    this.gsum = new Float32Array(this.P);
    this.mine = new IdAcc(this.d);
    this.merged = new IdAcc(this.d);
    this.hot = dev.hot;
    this.hotBound = cfg.parallel.hotBound;
    this.denseBound = cfg.parallel.denseBound;
    const H = this.hot ? this.hot.rows : 0;
    const replica = this.hotBound > 0 && H > 0;
    this.S = replica ? new Float32Array(H * this.d) : null;
    this.SA = replica && this.hot!.accum ? new Float32Array(H) : null;
    this.dirty = new Uint8Array(replica ? H : 0);
    this.dirtyList = new Int32Array(replica ? H : 0);
    this.peerStats = Array.from({ length: K }, () => ({ ...this.stats }));
  }

  /** The state every rank must share before training (initial, or restored): dense params + state, hot table. */
  stateBlob(): Buffer {
    const t = this.o.trainer;
    const parts: Buffer[] = [bytes(t.model.params)];
    if (t.denseOpt.state) parts.push(bytes(t.denseOpt.state));
    if (this.hot) {
      parts.push(bytes(this.hot.weights));
      if (this.hot.accum) parts.push(bytes(this.hot.accum));
    }
    return Buffer.concat(parts);
  }

  /** Take the coordinator's state (every rank, the coordinator too: the replica bookkeeping restarts). */
  loadState(blob: Buffer | null, step: number): void {
    const t = this.o.trainer;
    if (blob) {
      const f = new Float32Array(aligned(blob));
      const want = this.P * (t.denseOpt.state ? 2 : 1) + (this.hot ? this.hot.weights.length + (this.hot.accum?.length ?? 0) : 0);
      if (f.length !== want) throw new PipelineError('mismatch', `the coordinator's state has ${f.length} floats, this process expects ${want} (another model or hot set)`);
      let o = 0;
      t.model.params.set(f.subarray(o, (o += this.P)));
      if (t.denseOpt.state) t.denseOpt.state.set(f.subarray(o, (o += this.P)));
      if (this.hot) {
        this.hot.weights.set(f.subarray(o, (o += this.hot.weights.length)));
        if (this.hot.accum) this.hot.accum.set(f.subarray(o, (o += this.hot.accum.length)));
      }
    }
    if (this.S && this.hot) {
      this.S.set(this.hot.weights);
      if (this.SA && this.hot.accum) this.SA.set(this.hot.accum);
    }
    for (let i = 0; i < this.nDirty; i++) this.dirty[this.dirtyList[i]!] = 0;
    this.nDirty = 0;
    this.lastReconcile = step;
    this.patch.clear();
    this.pending = null;
  }

  /** Read the cold rows of `rows`' requests (hc_read), never-written rows as their initial values. */
  private async fetch(rows: BatchRows): Promise<void> {
    const t = this.o.tables;
    const init = t.rowInit!;
    await Promise.all(rows.requests.map(async (q) => {
      try {
        rows.fill(q, await t.readRows(q), t.nf, init);
      } catch (e) {
        throw storeError(t.addr, 'reading a slice\'s cold rows', e);
      }
    }));
    // rows the previous step updated: their owners' new values (the store may not hold them yet)
    const patch = this.patch;
    if (patch.size === 0) return;
    const nf = t.nf;
    const s = rows.stride;
    const pv = this.patchVals;
    for (let u = 0; u < rows.U; u++) {
      if (rows.uHot[u]! >= 0) continue;
      const i = patch.get(rows.uR[u]! * NUM_TABLES + rows.uT[u]!);
      if (i === undefined) continue;
      for (let k = 0; k < nf; k++) rows.vals[u * s + k] = pv[i * nf + k]!;
      rows.fresh[u] = 0;
    }
  }

  /**
   * One global step on `batch`.
   * @param gstep optimizer steps trained before this one (schedules reconciles and averages)
   * @returns the merged batch's mean loss; NaN when any rank's loss was not finite (then nothing was applied anywhere)
   */
  async step(batch: Batch, hot: boolean, gstep: number, reconcile: boolean, average: boolean, tags: Int32Array | null = null): Promise<number> {
    const { L, K, r, d, P, o } = this;
    const { trainer, link } = o;
    const cfg = o.cfg;
    const model = trainer.model;
    const dev = trainer.device;
    const B = batch.size;
    const cap = cfg.train.batchSize;
    splitBatch(batch, hot, L, o.splitter, tags);
    const Bk = L.sizes[r]!;
    const scale = Bk / B;
    const off = r * cap;
    const cats = L.cats.subarray(off * NUM_TABLES, (off + Bk) * NUM_TABLES);
    const rows = this.rows;
    const mine = this.mine;
    mine.clear();
    let loss = 0;
    let hotLookups = 0;
    const owned: number[] = [];
    const byOwner: number[][] = Array.from({ length: K }, () => []);
    if (Bk > 0) {
      if (hot) gatherBatch(dev.hotColumns, cats, Bk, this.emb, model.engine.kernels);
      else {
        rows.plan(cats, Bk, dev.reverse, trainer.device.tables.map((t) => t.rows), this.keys);
        await this.fetch(rows);
        rows.fillHot(dev.hot);
        rows.gather(Bk, this.emb);
      }
      model.forward(Bk, L.dense.subarray(off * NUM_DENSE, (off + Bk) * NUM_DENSE), this.emb);
      loss = model.backward(L.labels.subarray(off, off + Bk), this.eg) * scale;
      const eg = this.eg;
      const n = Bk * NUM_TABLES * d;
      for (let i = 0; i < n; i++) eg[i] = eg[i]! * scale;
      const g = model.grads;
      for (let i = 0; i < P; i++) this.gbuf[i] = g[i]! * scale;
      if (hot) {
        const nl = Bk * NUM_TABLES;
        for (let i = 0; i < nl; i++) mine.add(cats[i]!, eg, i * d);
        hotLookups = nl;
      } else {
        rows.accumulate(Bk, eg);
        hotLookups = rows.hot;
        for (let u = 0; u < rows.U; u++) {
          const h = rows.uHot[u]!;
          if (h >= 0) mine.add(h, rows.acc, u * d);
          else {
            const ow = ownerOf(o.owners, rows.uT[u]!, rows.uR[u]!, K);
            if (ow === r) owned.push(u);
            else byOwner[ow]!.push(u);
          }
        }
      }
    } else this.gbuf.fill(0);
    this.stats.hotLookups += hotLookups;
    if (this.S) {
      const stale = Math.min(gstep - this.lastReconcile, gstep % Math.max(1, this.hotBound));
      this.stats.staleSum += hotLookups * stale;
      if (hotLookups > 0 && stale > this.stats.staleMax) this.stats.staleMax = stale;
    }

    // post: header + dense gradient + hot list for everyone; each other owner its cold rows
    const nf = o.tables.nf;
    const posts: [string, Buffer][] = [];
    const header = new Float64Array(HEADER);
    header[H_LOSS] = loss;
    header[H_BK] = Bk;
    header[H_NHOT] = mine.n;
    const sendDense = this.denseBound === 0;
    const hotShared = !this.S; // bound 0: every rank applies every rank's hot gradients
    let remote = 0;
    const coldPosts: Buffer[] = [];
    for (let ow = 0; ow < K; ow++) {
      if (ow === r) continue;
      const us = byOwner[ow]!;
      remote += us.length;
      const buf = this.encodeCold(us, nf);
      coldPosts.push(buf);
      posts.push([`c${ow}`, buf]);
    }
    this.stats.remoteRows += remote;
    for (let i = 0; i < STAT_KEYS.length; i++) header[H_STATS + i] = this.stats[STAT_KEYS[i]!];
    const allParts = [bytes(header), ...(sendDense ? [bytes(this.gbuf)] : []), ...(hotShared ? [bytes(mine.ids, mine.n), bytes(mine.acc, mine.n * d)] : [])];
    const all = Buffer.concat(allParts);
    posts.push(['all', all]);
    const denseOut = sendDense ? P * 4 : 0;
    const hotOut = hotShared ? mine.n * (d + 1) * 4 : 0;
    const coldOut = coldPosts.reduce((a, b) => a + b.length, 0);
    const n = await link.barrier(posts);

    // read the others' posts
    const peers = await Promise.all(Array.from({ length: K }, async (_, j) => {
      if (j === r) return null;
      const [a, c] = await Promise.all([link.read(n, j, 'all'), link.read(n, j, `c${r}`)]);
      if (!a || !c) throw new PipelineError('worker_failed', `train: ${link.who(j)} posted nothing for barrier ${n} (its posts expired or the store was flushed)`);
      return { all: aligned(a), cold: aligned(c), allLen: a.length, coldLen: c.length };
    }));
    let total = 0;
    let finite = true;
    for (let j = 0; j < K; j++) {
      const h = j === r ? header : new Float64Array(peers[j]!.all, 0, HEADER);
      const lj = h[H_LOSS]!;
      if (!Number.isFinite(lj)) finite = false;
      total += lj;
      if (j !== r) {
        const ps = this.peerStats[j]!;
        for (let i = 0; i < STAT_KEYS.length; i++) ps[STAT_KEYS[i]!] = h[H_STATS + i]!;
      }
    }
    if (!finite) return NaN;
    let denseIn = 0;
    let hotIn = 0;
    let coldIn = 0;
    for (const p of peers) {
      if (!p) continue;
      coldIn += p.coldLen;
      const h = new Float64Array(p.all, 0, HEADER);
      denseIn += sendDense ? P * 4 : 0;
      hotIn += hotShared ? h[H_NHOT]! * (d + 1) * 4 : 0;
    }

    // cold rows I own: the ranks' gradients in rank order, one optimizer step per distinct row, hc_update (not awaited here)
    const applied = hot ? null : this.applyOwned(owned, peers.map((p) => (p ? this.decodeCold(p.cold) : null)), nf);

    // dense
    const opt = trainer.denseOpt;
    if (sendDense) {
      const gs = this.gsum;
      for (let j = 0; j < K; j++) {
        const src = j === r ? this.gbuf : new Float32Array(peers[j]!.all, HEADER * 8, P);
        if (j === 0) gs.set(src);
        else for (let i = 0; i < P; i++) gs[i] = gs[i]! + src[i]!;
      }
      opt.step(model.params, gs);
    } else if (Bk > 0) opt.step(model.params, model.grads);

    // hot rows
    const hw = this.hot;
    if (hw) {
      const lr = { ...cfg.optim.sparse };
      if (hotShared) {
        const m = this.merged;
        m.clear();
        for (let j = 0; j < K; j++) {
          if (j === r) {
            for (let u = 0; u < mine.n; u++) m.add(mine.ids[u]!, mine.acc, u * d);
            continue;
          }
          const buf = peers[j]!.all;
          const nh = new Float64Array(buf, 0, HEADER)[H_NHOT]!;
          const o0 = HEADER * 8 + (sendDense ? P * 4 : 0);
          const ids = new Int32Array(buf, o0, nh);
          const g = new Float32Array(buf, o0 + nh * 4, nh * d);
          for (let u = 0; u < nh; u++) m.add(ids[u]!, g, u * d);
        }
        for (let u = 0; u < m.n; u++) {
          const h = m.ids[u]!;
          applyRow(lr, d, hw.weights, h * d, hw.accum, h, m.acc, u * d);
          if (o.coordinator) dev.markHotUpdated(h);
        }
      } else {
        for (let u = 0; u < mine.n; u++) {
          const h = mine.ids[u]!;
          applyRow(lr, d, hw.weights, h * d, hw.accum, h, mine.acc, u * d);
          if (o.coordinator) dev.markHotUpdated(h);
          if (this.dirty[h] === 0) { this.dirty[h] = 1; this.dirtyList[this.nDirty++] = h; }
        }
      }
    }
    if (o.coordinator && !hot) this.markTouched(batch);
    this.stats.denseBytes += denseOut + denseIn;
    this.stats.hotBytes += hotOut + hotIn;
    this.stats.sparseBytes += coldOut + coldIn;
    if (reconcile) await this.reconcile(gstep + 1);
    if (average) await this.average();
    await this.close(applied);
    return total;
  }

  /** The rows `us` of my slice (values as read, fresh flags, gradients) for another owner. */
  private encodeCold(us: number[], nf: number): Buffer {
    const rows = this.rows;
    const d = this.d;
    const n = us.length;
    const ints = new Int32Array(1 + 3 * n);
    const flts = new Float32Array(n * (nf + d));
    ints[0] = n;
    const s = rows.stride;
    for (let i = 0; i < n; i++) {
      const u = us[i]!;
      ints[1 + i] = rows.uT[u]!;
      ints[1 + n + i] = rows.uR[u]!;
      ints[1 + 2 * n + i] = rows.fresh[u]!;
      for (let k = 0; k < nf; k++) flts[i * nf + k] = rows.vals[u * s + k]!;
      for (let k = 0; k < d; k++) flts[n * nf + i * d + k] = rows.acc[u * d + k]!;
    }
    return Buffer.concat([bytes(ints), bytes(flts)]);
  }

  private decodeCold(ab: ArrayBuffer): ColdList {
    const nf = this.o.tables.nf;
    const n = new Int32Array(ab, 0, 1)[0]!;
    const i0 = 4;
    const f0 = 4 + 12 * n;
    return {
      n, t: new Int32Array(ab, i0, n), r: new Int32Array(ab, i0 + 4 * n, n), fresh: new Int32Array(ab, i0 + 8 * n, n),
      before: new Float32Array(ab, f0, n * nf), grad: new Float32Array(ab, f0 + n * nf * 4, n * this.d),
    };
  }

  /** Merge my owned rows and the ranks' lists (rank order), apply once per distinct row, write through hc_update. */
  private applyOwned(owned: number[], lists: (ColdList | null)[], nf: number): { done: Promise<void>; nv: Buffer } {
    const { d, r, K } = this;
    const rows = this.rows;
    const map = this.pairKey;
    map.clear();
    // first pass: the distinct rows, in rank order of first appearance
    let n = 0;
    for (let j = 0; j < K; j++) n += j === r ? owned.length : lists[j]!.n;
    const ts = new Int32Array(n);
    const rs = new Int32Array(n);
    const fr = new Uint8Array(n);
    const bv = new Float32Array(n * nf);
    const ga = new Float32Array(n * d);
    let u = 0;
    const s = rows.stride;
    for (let j = 0; j < K; j++) {
      const mineList = j === r;
      const c = mineList ? owned.length : lists[j]!.n;
      const L = lists[j];
      for (let i = 0; i < c; i++) {
        const t = mineList ? rows.uT[owned[i]!]! : L!.t[i]!;
        const rr = mineList ? rows.uR[owned[i]!]! : L!.r[i]!;
        const key = rr * NUM_TABLES + t;
        let x = map.get(key);
        if (x === undefined) {
          x = u++;
          map.set(key, x);
          ts[x] = t;
          rs[x] = rr;
          if (mineList) {
            const v = owned[i]!;
            fr[x] = rows.fresh[v]!;
            for (let k = 0; k < nf; k++) bv[x * nf + k] = rows.vals[v * s + k]!;
          } else {
            fr[x] = L!.fresh[i]!;
            bv.set(L!.before.subarray(i * nf, i * nf + nf), x * nf);
          }
        }
        const g0 = x * d;
        if (mineList) {
          const a0 = owned[i]! * d;
          for (let k = 0; k < d; k++) ga[g0 + k] = ga[g0 + k]! + rows.acc[a0 + k]!;
        } else {
          for (let k = 0; k < d; k++) ga[g0 + k] = ga[g0 + k]! + L!.grad[i * d + k]!;
        }
      }
    }
    if (u === 0) return { done: Promise.resolve(), nv: Buffer.from(new Int32Array([0]).buffer) };
    const own = this.own;
    own.planRows(ts, rs, u, this.keys);
    const os = own.stride;
    const opt = this.o.cfg.optim.sparse;
    const ada = opt.kind === 'adagrad';
    for (let x = 0; x < u; x++) {
      own.fresh[x] = fr[x]!;
      for (let k = 0; k < nf; k++) own.vals[x * os + k] = bv[x * nf + k]!;
    }
    own.before.set(own.vals.subarray(0, u * os));
    own.acc.set(ga.subarray(0, u * d));
    for (let x = 0; x < u; x++) applyRow(opt, d, own.vals, x * os, ada ? own.vals : null, x * os + d, own.acc, x * d);
    this.stats.coldApplied += u;
    const t = this.o.writer;
    // every argument is copied into its Buffer now: `own` may be reused while the writes are in flight
    const args = own.requests.map((q) => [q, own.grads(q), own.rowsOf(q, own.before, nf), own.freshOf(q), own.rowsOf(q, own.vals, nf)] as const);
    const send = (): Promise<unknown> => Promise.all(args.map(([q, g, before, fresh, after]) => t.updateRows(q, g, before, fresh, after)));
    const delay = remoteTestHooks.writeDelayMs;
    const done = (delay > 0 ? new Promise((res) => setTimeout(res, delay)).then(send) : send()).then(() => undefined, (e: unknown) => {
      throw storeError(t.addr, 'applying the owned rows of a step', e);
    });
    done.catch(() => undefined); // awaited before the next closing barrier
    // the new values for the other ranks' next reads: [n, t[n], r[n]] then n × nf floats
    const ints = new Int32Array(1 + 2 * u);
    ints[0] = u;
    ints.set(ts.subarray(0, u), 1);
    ints.set(rs.subarray(0, u), 1 + u);
    const vals = new Float32Array(u * nf);
    for (let x = 0; x < u; x++) for (let k = 0; k < nf; k++) vals[x * nf + k] = own.vals[x * os + k]!;
    return { done, nv: Buffer.concat([bytes(ints), bytes(vals)]) };
  }

  /**
   * The closing barrier of a step: the previous cold step's writes are in the store first; this
   * step's (`applied`) may still be in flight, so every rank takes the new values of the rows
   * updated now from their owners' posts ('nv') for its next reads. Writes to a row always come
   * from its owner on one connection, so they land in order.
   */
  private async close(applied: { done: Promise<void>; nv: Buffer } | null): Promise<void> {
    const { link } = this.o;
    if (this.pending) {
      const p = this.pending;
      this.pending = null;
      await p;
    }
    const n = await link.barrier(applied ? [['nv', applied.nv]] : []);
    this.pending = applied ? applied.done : null;
    this.patch.clear();
    if (applied) {
      const nf = this.o.tables.nf;
      const lists = await Promise.all(Array.from({ length: this.K }, async (_, j) => {
        if (j === this.r) return aligned(applied.nv);
        const b = await link.read(n, j, 'nv');
        if (!b) throw new PipelineError('worker_failed', `train: ${link.who(j)} posted no updated rows for barrier ${n}`);
        return aligned(b);
      }));
      let total = 0;
      for (const ab of lists) total += new Int32Array(ab, 0, 1)[0]!;
      if (this.patchVals.length < total * nf) this.patchVals = new Float32Array(total * nf * 2);
      let at = 0;
      for (let j = 0; j < this.K; j++) {
        const ab = lists[j]!;
        if (j !== this.r) this.stats.sparseBytes += ab.byteLength;
        const c = new Int32Array(ab, 0, 1)[0]!;
        const ts = new Int32Array(ab, 4, c);
        const rs = new Int32Array(ab, 4 + 4 * c, c);
        const vs = new Float32Array(ab, 4 + 8 * c, c * nf);
        for (let i = 0; i < c; i++) {
          this.patch.set(rs[i]! * NUM_TABLES + ts[i]!, at);
          this.patchVals.set(vs.subarray(i * nf, i * nf + nf), at * nf);
          at++;
        }
      }
      this.stats.sparseBytes += applied.nv.length;
    }
    link.collect();
  }

  /** Rank 0: the touched bits of the batch's cold rows (whoever owns them, they were updated). */
  private markTouched(batch: Batch): void {
    const dev = this.o.trainer.device;
    const rev = dev.reverse;
    const B = batch.size;
    for (let f = 0; f < NUM_TABLES; f++) {
      const tab = dev.tables[f]!;
      const rv = rev ? rev[f]! : null;
      const tt = tab.touched;
      for (let b = 0; b < B; b++) {
        const id = batch.cats[b * NUM_TABLES + f]!;
        if (rv && rv[id]! >= 0) continue;
        tt[id >>> 3] = tt[id >>> 3]! | (1 << (id & 7));
      }
    }
  }

  /**
   * hotBound > 0: post my dirty replica rows' deltas against S, barrier, S += every rank's deltas in
   * rank order, every rank's replica rows of the union ← S (the thread mode's reconcile, over the store).
   */
  async reconcile(step: number): Promise<void> {
    const hw = this.hot;
    const S = this.S;
    if (!hw || !S) return;
    const { d, K, r, o } = this;
    const stride = d + 1;
    const n0 = this.nDirty;
    const ids = new Int32Array(1 + n0);
    const del = new Float32Array(n0 * stride);
    ids[0] = n0;
    const w = hw.weights;
    const a = hw.accum;
    const SA = this.SA;
    for (let i = 0; i < n0; i++) {
      const h = this.dirtyList[i]!;
      this.dirty[h] = 0;
      ids[1 + i] = h;
      for (let c = 0; c < d; c++) del[i * stride + c] = w[h * d + c]! - S[h * d + c]!;
      del[i * stride + d] = a && SA ? a[h]! - SA[h]! : 0;
    }
    this.nDirty = 0;
    const mine = Buffer.concat([bytes(ids), bytes(del)]);
    const n = await o.link.barrier([['rc', mine]]);
    const lists = await Promise.all(Array.from({ length: K }, async (_, j) => {
      if (j === r) return aligned(mine);
      const b = await o.link.read(n, j, 'rc');
      if (!b) throw new PipelineError('worker_failed', `train: ${o.link.who(j)} posted no reconcile for barrier ${n}`);
      return aligned(b);
    }));
    const seen = new Map<number, number>();
    let bytesIn = 0;
    let conflicts = 0;
    for (let j = 0; j < K; j++) {
      const ab = lists[j]!;
      if (j !== r) bytesIn += ab.byteLength;
      const c = new Int32Array(ab, 0, 1)[0]!;
      const hs = new Int32Array(ab, 4, c);
      const ds = new Float32Array(ab, 4 + 4 * c, c * stride);
      for (let i = 0; i < c; i++) {
        const h = hs[i]!;
        for (let q = 0; q < d; q++) S[h * d + q] = S[h * d + q]! + ds[i * stride + q]!;
        if (SA) SA[h] = SA[h]! + ds[i * stride + d]!;
        const prev = seen.get(h);
        if (prev === undefined) seen.set(h, j);
        else if (prev >= 0) { seen.set(h, -1); conflicts++; }
      }
    }
    for (const h of seen.keys()) {
      for (let q = 0; q < d; q++) w[h * d + q] = S[h * d + q]!;
      if (a && SA) a[h] = SA[h]!;
      if (o.coordinator) o.trainer.device.markHotUpdated(h);
    }
    this.stats.hotBytes += mine.length + bytesIn;
    if (r === 0) this.stats.reconciles++;
    this.stats.reconciledRows += r === 0 ? seen.size : 0;
    this.stats.conflictRows += r === 0 ? conflicts : 0;
    this.lastReconcile = step;
  }

  /** denseBound > 0: every rank's parameters and optimizer state ← their mean (rank order). */
  async average(): Promise<void> {
    const { K, r, P, o } = this;
    const t = o.trainer;
    const st = t.denseOpt.state;
    const mine = Buffer.concat([bytes(t.model.params), ...(st ? [bytes(st)] : [])]);
    const n = await o.link.barrier([['av', mine]]);
    const all = await Promise.all(Array.from({ length: K }, async (_, j) => {
      if (j === r) return new Float32Array(aligned(mine));
      const b = await o.link.read(n, j, 'av');
      if (!b) throw new PipelineError('worker_failed', `train: ${o.link.who(j)} posted no parameters for barrier ${n}`);
      return new Float32Array(aligned(b));
    }));
    const mean = (out: Float32Array, at: number): void => {
      out.set(all[0]!.subarray(at, at + P));
      for (let j = 1; j < K; j++) {
        const s = all[j]!;
        for (let i = 0; i < P; i++) out[i] = out[i]! + s[at + i]!;
      }
      const inv = 1 / K;
      for (let i = 0; i < P; i++) out[i] = out[i]! * inv;
    };
    mean(t.model.params, 0);
    if (st) mean(st, P);
    this.stats.denseBytes += mine.length * K;
  }

  /** This rank's hot table (its replica at hotBound > 0), for per-replica Slipstream (remote/slip.ts). */
  get replica(): Float32Array | null {
    return this.hot ? this.hot.weights : null;
  }

  /** Evaluation / checkpoint / end: reconcile and average (bounds > 0), then a barrier. */
  async sync(step: number): Promise<void> {
    if (this.S) await this.reconcile(step);
    if (this.denseBound > 0) await this.average();
    await this.close(null); // the last writes are in the store: evaluations and checkpoints read it
  }

  /** Counters summed over the ranks (each as of its last post; this rank's live). */
  totals(): RankStats {
    const out = { ...this.stats };
    for (let j = 0; j < this.K; j++) {
      if (j === this.r) continue;
      const p = this.peerStats[j]!;
      for (const k of STAT_KEYS) out[k] = k === 'staleMax' ? Math.max(out[k], p[k]) : out[k] + p[k];
    }
    return out;
  }
}

/** Index of the hot table in owner maps (re-exported for the coordinator's counters). */
export { HOT_TABLE };
