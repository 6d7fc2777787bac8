/**
 * One batch's embedding rows on the client of a remote cold store:
 *
 *     plan(cats)   de-duplicate the batch's (table, row) ids (first-seen order, b-major then f),
 *                  split them into hot (served by the device's hot table) and cold (the store),
 *                  and group the cold ones by shard: one read / one update request per shard
 *     vals         U × (dim + 1) fp32: each unique row's weights and Adagrad accumulator
 *     accumulate   sum the batch's gradients per unique row, in the order scatterUpdate sums them
 *     applyRow     the row-wise optimizer step of model/embedding.ts, the same arithmetic
 *
 * No allocation per row: arrays grow to the largest batch seen and are reused.
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { EmbeddingTable, SparseOptConfig } from '../model/embedding.js';
import { MAX_KEYS } from './functions.js';
import type { RowInit } from './lazy-init.js';
import { blockKey, ROWS_PER_BLOCK, SHARDS, sentinelKey, shardOf } from './layout.js';

/** Per-shard request of a batch: the keys (sentinel first) and (key index, row in block) pairs. */
export interface ShardRequest {
  shard: number;
  keys: string[];
  /** int32 LE pairs, 8 bytes per row */
  pairs: Buffer;
  /** unique-row index of each requested row, in request order */
  rows: Int32Array;
  n: number;
}

/** Per-table key-string cache (block → key), built lazily. */
export class KeyCache {
  private readonly cache: (string | undefined)[][];
  readonly sentinels: string[];
  constructor(readonly prefix: string, tables: number) {
    this.cache = Array.from({ length: tables }, () => []);
    this.sentinels = Array.from({ length: SHARDS }, (_, s) => sentinelKey(prefix, s));
  }
  block(t: number, blk: number): string {
    const c = this.cache[t]!;
    let k = c[blk];
    if (k === undefined) c[blk] = k = blockKey(this.prefix, t, blk);
    return k;
  }
}

/** What BatchRows.applyStep needs of the Device: its hot table, host tables' touched bits and hot-row marks. */
export interface StepDevice {
  readonly hot: EmbeddingTable | null;
  readonly tables: readonly { touched: Uint8Array }[];
  markHotUpdated(h: number): void;
}

export class BatchRows {
  readonly stride: number;
  /** unique rows */
  U = 0;
  uT = new Int32Array(0);
  uR = new Int32Array(0);
  /** hot index of each unique row, or −1 (cold) */
  uHot = new Int32Array(0);
  /** B×F: unique-row index of each lookup */
  local = new Int32Array(0);
  /** U × stride: weights, then the accumulator */
  vals = new Float32Array(0);
  /** U × stride: the cold rows as read, before this batch's update (for hc_update's unchanged-row check) */
  before = new Float32Array(0);
  /** U × dim accumulated gradients */
  acc = new Float32Array(0);
  /** 1 where the row was read as never written and vals took its initial value (hc_update's `fresh`) */
  fresh = new Uint8Array(0);
  /** cold rows grouped by shard */
  requests: ShardRequest[] = [];
  cold = 0;
  hot = 0;
  lookups = 0;
  /** the prefetch of this batch's cold rows (resolves when vals holds them) */
  pending: Promise<void> | null = null;
  /** a read into vals is outstanding (a dropped prefetch still in flight: not reusable yet) */
  inFlight = false;
  // open-addressing map key = r·F + t → unique index
  private keys = new Int32Array(0);
  private slot = new Int32Array(0);
  private mask = 0;
  private shardCount = new Int32Array(SHARDS);

  constructor(readonly dim: number, readonly F: number) {
    this.stride = dim + 1;
  }

  private ensure(n: number): void {
    let cap = 16;
    while (cap < 2 * n) cap <<= 1;
    if (this.keys.length < cap) {
      this.keys = new Int32Array(cap).fill(-1);
      this.slot = new Int32Array(cap);
    }
    this.mask = this.keys.length - 1;
    if (this.uT.length < n) {
      this.uT = new Int32Array(n);
      this.uR = new Int32Array(n);
      this.uHot = new Int32Array(n);
      this.local = new Int32Array(n);
      this.vals = new Float32Array(n * this.stride);
      this.before = new Float32Array(n * this.stride);
      this.acc = new Float32Array(n * this.dim);
      this.fresh = new Uint8Array(n);
    }
  }

  /** Index of (t, r) in this batch, or −1. */
  find(t: number, r: number): number {
    const key = r * this.F + t;
    let h = (Math.imul(key, 0x9e3779b1) >>> 7) & this.mask;
    for (;;) {
      const k = this.keys[h]!;
      if (k === key) return this.slot[h]!;
      if (k === -1) return -1;
      h = (h + 1) & this.mask;
    }
  }

  /**
   * De-duplicate and group a batch's ids.
   * @param reverse per table: row → hot index or −1 (null: no hot table)
   * @param sizes rows per table (ids are checked against them)
   */
  plan(cats: Int32Array, B: number, reverse: Int32Array[] | null, sizes: number[], keys: KeyCache): void {
    const F = this.F;
    const n = B * F;
    this.ensure(n);
    // empty the previous batch's map slots
    if (this.U > 0) this.keys.fill(-1);
    const { keys: hk, slot, mask, uT, uR, uHot, local } = this;
    let U = 0;
    let hot = 0;
    for (let b = 0; b < B; b++) {
      for (let f = 0; f < F; f++) {
        const r = cats[b * F + f]!;
        if (r < 0 || r >= sizes[f]!) {
          throw new PipelineError('bad_input', `embedding id ${r} of column ${f} in batch row ${b} is outside table rows [0, ${sizes[f]})`, {
            field: `C${f + 1}`, actual: String(r), expected: `0 ≤ id < ${sizes[f]}`,
            hint: 'the data and the table sizes come from different preprocess runs',
          });
        }
        const key = r * F + f;
        let h = (Math.imul(key, 0x9e3779b1) >>> 7) & mask;
        let u: number;
        for (;;) {
          const k = hk[h]!;
          if (k === key) { u = slot[h]!; break; }
          if (k === -1) {
            hk[h] = key;
            slot[h] = u = U++;
            uT[u] = f;
            uR[u] = r;
            const hi = reverse ? reverse[f]![r]! : -1;
            uHot[u] = hi;
            break;
          }
          h = (h + 1) & mask;
        }
        if (uHot[u]! >= 0) hot++;
        local[b * F + f] = u;
      }
    }
    this.U = U;
    this.hot = hot;
    this.lookups = n;
    this.buildRequests(keys);
  }

  /** Plan reads of the cold rows (ts[i], rs[i]), i < n (no batch: checkpoints' touched rows). */
  planRows(ts: Int32Array, rs: Int32Array, n: number, kc: KeyCache): void {
    this.ensure(n);
    this.U = n;
    this.uT.set(ts.subarray(0, n));
    this.uR.set(rs.subarray(0, n));
    this.uHot.fill(-1, 0, n);
    this.hot = 0;
    this.lookups = 0;
    this.buildRequests(kc);
  }

  private buildRequests(kc: KeyCache): void {
    const cnt = this.shardCount.fill(0);
    let cold = 0;
    for (let u = 0; u < this.U; u++) {
      if (this.uHot[u]! >= 0) continue;
      cnt[shardOf(this.uT[u]!, (this.uR[u]! / ROWS_PER_BLOCK) | 0)]!++;
      cold++;
    }
    this.cold = cold;
    const reqs: ShardRequest[] = [];
    const open: (ShardRequest | undefined)[] = new Array(SHARDS);
    const left = Int32Array.from(cnt);
    const start = (s: number): ShardRequest => {
      const q: ShardRequest = { shard: s, keys: [kc.sentinels[s]!], pairs: Buffer.allocUnsafe(left[s]! * 8), rows: new Int32Array(left[s]!), n: 0 };
      open[s] = q;
      reqs.push(q);
      return q;
    };
    // key index of a block in its shard's open request: block id = blk·F + t → (request, index)
    const blockReq = new Map<number, ShardRequest>();
    const blockIdx = new Map<number, number>();
    for (let u = 0; u < this.U; u++) {
      if (this.uHot[u]! >= 0) continue;
      const t = this.uT[u]!;
      const r = this.uR[u]!;
      const blk = (r / ROWS_PER_BLOCK) | 0;
      const s = shardOf(t, blk);
      let q = open[s] ?? start(s);
      const id = blk * this.F + t;
      let ki = blockReq.get(id) === q ? blockIdx.get(id)! : -1;
      if (ki < 0) {
        if (q.keys.length >= MAX_KEYS) q = start(s);
        q.keys.push(kc.block(t, blk));
        ki = q.keys.length; // Lua: KEYS is 1-based, the sentinel is KEYS[1]
        blockReq.set(id, q);
        blockIdx.set(id, ki);
      }
      q.pairs.writeInt32LE(ki, q.n * 8);
      q.pairs.writeInt32LE(r - blk * ROWS_PER_BLOCK, q.n * 8 + 4);
      q.rows[q.n++] = u;
      left[s]!--;
    }
    for (const q of reqs) {
      q.pairs = q.pairs.subarray(0, q.n * 8);
      q.rows = q.rows.subarray(0, q.n);
    }
    this.requests = reqs;
  }

  /**
   * Copy a read reply (rows of `q`, rowBytes each, `nf` floats: dim or dim + 1) into vals; a row
   * never written (all-zero bytes) takes its initial value from `init` and is marked fresh.
   */
  fill(q: ShardRequest, reply: Buffer, nf: number, init: RowInit): void {
    const rb = nf * 4;
    if (reply.length !== q.n * rb) throw new PipelineError('internal', `cold store reply of ${reply.length} bytes for ${q.n} rows of ${rb} bytes`);
    const tmp = new Float32Array(q.n * nf);
    new Uint8Array(tmp.buffer).set(reply);
    const bits = new Int32Array(tmp.buffer);
    const { vals, stride, fresh } = this;
    for (let i = 0; i < q.n; i++) {
      const u = q.rows[i]!;
      const v0 = u * stride;
      const s0 = i * nf;
      let z = 0;
      for (let k = 0; k < nf; k++) z |= bits[s0 + k]!;
      if (z === 0) {
        init.row(this.uT[u]!, this.uR[u]!, vals, v0, nf > this.dim);
        fresh[u] = 1;
      } else {
        for (let k = 0; k < nf; k++) vals[v0 + k] = tmp[s0 + k]!;
        fresh[u] = 0;
      }
    }
  }

  /** The fresh flags of the rows of `q`, one byte each, in request order. */
  freshOf(q: ShardRequest): Buffer {
    const out = Buffer.allocUnsafe(q.n);
    for (let i = 0; i < q.n; i++) out[i] = this.fresh[q.rows[i]!]!;
    return out;
  }

  /** The batch's hot rows (weights, then the accumulator) from the device's hot table into vals. */
  fillHot(hot: EmbeddingTable | null): void {
    if (!hot || this.hot === 0) return;
    const { dim: d, stride: s, uHot, vals } = this;
    for (let u = 0; u < this.U; u++) {
      const h = uHot[u]!;
      if (h < 0) continue;
      vals.set(hot.weights.subarray(h * d, h * d + d), u * s);
      if (hot.accum) vals[u * s + d] = hot.accum[h]!;
    }
  }

  /**
   * The batch's sparse optimizer step, as both Redis stores take it: acc ← Σ grad per row,
   * `before` ← vals (the rows as read), then each hot row stepped in the device's hot table
   * (marked updated) and each cold row stepped in vals (its table's touched bit set).
   */
  applyStep(B: number, grad: Float32Array, opt: SparseOptConfig, device: StepDevice): void {
    this.accumulate(B, grad);
    const { dim: d, stride: s, vals, acc, uHot, uT, uR } = this;
    const hot = device.hot;
    const ada = opt.kind === 'adagrad';
    this.before.set(vals.subarray(0, this.U * s));
    for (let u = 0; u < this.U; u++) {
      const h = uHot[u]!;
      if (h >= 0) {
        applyRow(opt, d, hot!.weights, h * d, hot!.accum, h, acc, u * d);
        device.markHotUpdated(h);
      } else {
        applyRow(opt, d, vals, u * s, ada ? vals : null, u * s + d, acc, u * d);
        const tab = device.tables[uT[u]!]!;
        const r = uR[u]!;
        tab.touched[r >>> 3] = tab.touched[r >>> 3]! | (1 << (r & 7));
      }
    }
  }

  /** out[b, f, :] = vals of the batch's lookup (b, f). */
  gather(B: number, out: Float32Array): void {
    const { local, vals, stride, dim: d, F } = this;
    const n = B * F;
    for (let i = 0; i < n; i++) {
      const v0 = local[i]! * stride;
      const o0 = i * d;
      for (let k = 0; k < d; k++) out[o0 + k] = vals[v0 + k]!;
    }
  }

  /** acc[u] = Σ grad over the lookups of u, in scatterUpdate's order (b ascending). */
  accumulate(B: number, grad: Float32Array): void {
    const { local, acc, dim: d, F } = this;
    acc.fill(0, 0, this.U * d);
    const n = B * F;
    for (let i = 0; i < n; i++) {
      const a0 = local[i]! * d;
      const g0 = i * d;
      for (let k = 0; k < d; k++) acc[a0 + k] = acc[a0 + k]! + grad[g0 + k]!;
    }
  }

  /** `nf` floats per row of `src` (U × stride) for the rows of `q`, fp32 LE, in request order. */
  rowsOf(q: ShardRequest, src: Float32Array, nf: number): Buffer {
    const s = this.stride;
    const out = new Float32Array(q.n * nf);
    for (let i = 0; i < q.n; i++) out.set(src.subarray(q.rows[i]! * s, q.rows[i]! * s + nf), i * nf);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }

  /** Gradients of the rows of `q`, fp32 LE, in request order. */
  grads(q: ShardRequest): Buffer {
    const d = this.dim;
    const out = new Float32Array(q.n * d);
    for (let i = 0; i < q.n; i++) out.set(this.acc.subarray(q.rows[i]! * d, q.rows[i]! * d + d), i * d);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
}

/**
 * The row-wise optimizer step of model/embedding.ts on one row: weights w[w0 .. w0+d),
 * accumulator accum[ai] (Adagrad), gradient acc[a0 .. a0+d). The same double-precision
 * expressions in the same order, so results are bit-identical to scatterUpdate.
 */
export function applyRow(
  opt: SparseOptConfig, d: number, w: Float32Array, w0: number, accum: Float32Array | null, ai: number, acc: Float32Array, a0: number,
): void {
  const lr = opt.lr;
  if (opt.kind === 'sgd' || accum === null) {
    for (let k = 0; k < d; k++) w[w0 + k] = w[w0 + k]! - lr * acc[a0 + k]!;
    return;
  }
  const eps = opt.eps ?? 1e-10;
  let sq = 0;
  for (let k = 0; k < d; k++) { const g = acc[a0 + k]!; sq += g * g; }
  const m = accum[ai]! + sq * (1 / d);
  accum[ai] = m;
  const step = lr / (Math.sqrt(m) + eps);
  for (let k = 0; k < d; k++) w[w0 + k] = w[w0 + k]! - step * acc[a0 + k]!;
}
