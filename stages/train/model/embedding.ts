/**
 * Embedding tables as host Float32Arrays with sparse row updates.
 *
 *     cats  B×F   Int32 row ids; column f is served by tables[f]
 *     rows  B×F×d gathered rows (gatherBatch) / their gradients (scatterUpdate)
 *
 * One table object may serve several columns (e.g. FAE's concatenated hot table); the
 * scatter then accumulates over all of them. Duplicate ids accumulate into one gradient per
 * row, and the optimizer applies it once:
 *
 *     sgd              w[r] -= lr·g
 *     row-wise adagrad a[r] += mean_k g[k]²;  w[r] -= lr·g / (sqrt(a[r]) + eps)   (FBGEMM/TorchRec)
 */
import { PipelineError, badConfig } from '../../../pipeline/errors.js';
import type { Rng } from '../../../pipeline/rng.js';

/** Sparse optimizer of a table. */
export interface SparseOptConfig {
  kind: 'sgd' | 'adagrad';
  lr: number;
  /** @default 1e-10 (as the dense Adagrad) */
  eps?: number;
  /** initial row accumulator. @default 0 */
  initAccum?: number;
}

/** One embedding table: rows×dim weights, optional row-wise Adagrad state, touched bitset. */
export class EmbeddingTable {
  readonly rows: number;
  readonly dim: number;
  readonly opt: SparseOptConfig;
  /** rows×dim row-major */
  readonly weights: Float32Array;
  /** one Adagrad accumulator per row; null for SGD */
  readonly accum: Float32Array | null;
  /** bit r (byte r>>3, bit r&7) set when row r is updated; checkpoints clear it */
  readonly touched: Uint8Array;

  constructor(rows: number, dim: number, opt: SparseOptConfig) {
    if (!Number.isInteger(rows) || rows < 1) throw badConfig('rows', `embedding table rows ${rows} is not a positive integer`);
    if (!Number.isInteger(dim) || dim < 1) throw badConfig('model.dim', `${dim} is not a positive integer`);
    if (opt.kind !== 'sgd' && opt.kind !== 'adagrad') throw badConfig('optimizer', `'${String(opt.kind)}' is not sgd or adagrad`);
    if (!(opt.lr > 0) || !Number.isFinite(opt.lr)) throw badConfig('lr', `${opt.lr} is not a positive number`);
    this.rows = rows;
    this.dim = dim;
    this.opt = { ...opt };
    try {
      this.weights = new Float32Array(rows * dim);
    } catch (err) {
      throw new PipelineError('internal', `cannot allocate an embedding table of ${rows}×${dim} floats (${((rows * dim * 4) / 2 ** 30).toFixed(2)} GiB)`, {
        cause: err, hint: 'lower the row count (preprocess --max-ind-range / --freq-threshold) or the dim',
      });
    }
    this.accum = opt.kind === 'adagrad' ? new Float32Array(rows).fill(opt.initAccum ?? 0) : null;
    this.touched = new Uint8Array((rows + 7) >>> 3);
  }

  /** Fill with U(−bound, bound) as DLRM. @param bound @default sqrt(1/rows) */
  initUniform(rng: Rng, bound: number = Math.sqrt(1 / this.rows)): void {
    const w = this.weights;
    const two = 2 * bound;
    for (let i = 0; i < w.length; i++) w[i] = rng.float() * two - bound;
  }

  /** Is row r marked as updated since the last clear? */
  isTouched(r: number): boolean {
    return (this.touched[r >>> 3]! & (1 << (r & 7))) !== 0;
  }
}

function badId(f: number, b: number, id: number, rows: number): PipelineError {
  return new PipelineError('bad_input', `embedding id ${id} of column ${f} in batch row ${b} is outside table rows [0, ${rows})`, {
    field: `C${f + 1}`, actual: String(id), expected: `0 ≤ id < ${rows}`,
    hint: 'the data and the table sizes come from different preprocess runs, or the hot remap is stale',
  });
}

/**
 * out[b, f, :] = tables[f].weights[cats[b, f], :].
 * @param cats B×F ids, F = tables.length
 * @param out  B×F×dim
 */
export function gatherBatch(tables: EmbeddingTable[], cats: Int32Array, B: number, out: Float32Array): void {
  const F = tables.length;
  if (F === 0) return;
  const d = tables[0]!.dim;
  for (let f = 0; f < F; f++) {
    const t = tables[f]!;
    if (t.dim !== d) throw new PipelineError('internal', `gatherBatch: table ${f} has dim ${t.dim}, table 0 has ${d}`);
    const w = t.weights;
    const rows = t.rows;
    for (let b = 0; b < B; b++) {
      const id = cats[b * F + f]!;
      if (id < 0 || id >= rows) throw badId(f, b, id, rows);
      const src = id * d;
      const dst = (b * F + f) * d;
      for (let k = 0; k < d; k++) out[dst + k] = w[src + k]!;
    }
  }
}

/**
 * Reusable scratch for scatterUpdate: an open-addressing map row → slot sized to the batch,
 * the unique rows in first-seen order and their accumulated gradients.
 */
class ScatterScratch {
  keys = new Int32Array(0); // hash slots: row id or −1
  vals = new Int32Array(0); // hash slots: index into uniq
  uniq = new Int32Array(0); // unique row ids, first-seen order
  where = new Int32Array(0); // hash slot of each unique row (to empty the map afterwards)
  acc = new Float32Array(0); // uniq.length × d accumulated gradients
  mask = 0;

  ensure(n: number, d: number): void {
    let cap = 16;
    while (cap < 2 * n) cap <<= 1;
    if (this.keys.length < cap) {
      this.keys = new Int32Array(cap).fill(-1);
      this.vals = new Int32Array(cap);
    }
    this.mask = this.keys.length - 1;
    if (this.uniq.length < n) {
      this.uniq = new Int32Array(n);
      this.where = new Int32Array(n);
    }
    if (this.acc.length < n * d) this.acc = new Float32Array(n * d);
  }
}

const scratch = new ScatterScratch();

/**
 * Sparse update of the tables from grad (B×F×dim, e.g. Dlrm.backward's embGrad): for each
 * distinct table, duplicate ids across the batch and across the columns it serves are summed
 * into one gradient per row, then the table's optimizer updates each row once and sets its
 * touched bit. Rows are visited in first-seen order (b-major, then f), so results are
 * deterministic.
 */
export function scatterUpdate(tables: EmbeddingTable[], cats: Int32Array, B: number, grad: Float32Array): void {
  const F = tables.length;
  for (let f = 0; f < F; f++) {
    const t = tables[f]!;
    // each distinct table is handled once, at its first column
    let seen = false;
    for (let g = 0; g < f; g++) if (tables[g] === t) { seen = true; break; }
    if (seen) continue;
    let cols = 0;
    for (let g = f; g < F; g++) if (tables[g] === t) cols++;
    updateTable(t, tables, f, cats, B, grad, cols);
  }
}

function updateTable(
  t: EmbeddingTable, tables: EmbeddingTable[], first: number, cats: Int32Array, B: number, grad: Float32Array, cols: number,
): void {
  const F = tables.length;
  const d = t.dim;
  const s = scratch;
  s.ensure(B * cols, d);
  const { keys, vals, uniq, where, acc, mask } = s;
  let n = 0;
  for (let b = 0; b < B; b++) {
    for (let f = first; f < F; f++) {
      if (tables[f] !== t) continue;
      const id = cats[b * F + f]!;
      if (id < 0 || id >= t.rows) {
        for (let i = 0; i < n; i++) keys[where[i]!] = -1;
        throw badId(f, b, id, t.rows);
      }
      let h = (Math.imul(id, 0x9e3779b1) >>> 7) & mask;
      let slot: number;
      for (;;) {
        const k = keys[h]!;
        if (k === id) { slot = vals[h]!; break; }
        if (k === -1) {
          keys[h] = id;
          vals[h] = n;
          uniq[n] = id;
          where[n] = h;
          slot = n++;
          const a0 = slot * d;
          for (let k2 = 0; k2 < d; k2++) acc[a0 + k2] = 0;
          break;
        }
        h = (h + 1) & mask;
      }
      const a0 = slot * d;
      const g0 = (b * F + f) * d;
      for (let k = 0; k < d; k++) acc[a0 + k] = acc[a0 + k]! + grad[g0 + k]!;
    }
  }
  const w = t.weights;
  const touched = t.touched;
  const lr = t.opt.lr;
  const accum = t.accum;
  const eps = t.opt.eps ?? 1e-10;
  const invD = 1 / d;
  for (let i = 0; i < n; i++) {
    const r = uniq[i]!;
    const a0 = i * d;
    const w0 = r * d;
    if (accum === null) {
      for (let k = 0; k < d; k++) w[w0 + k] = w[w0 + k]! - lr * acc[a0 + k]!;
    } else {
      let sq = 0;
      for (let k = 0; k < d; k++) { const g = acc[a0 + k]!; sq += g * g; }
      const m = accum[r]! + sq * invD;
      accum[r] = m;
      const step = lr / (Math.sqrt(m) + eps);
      for (let k = 0; k < d; k++) w[w0 + k] = w[w0 + k]! - step * acc[a0 + k]!;
    }
    touched[r >>> 3] = touched[r >>> 3]! | (1 << (r & 7));
    keys[where[i]!] = -1; // all lookups are done: emptying slots cannot break a probe chain
  }
}
