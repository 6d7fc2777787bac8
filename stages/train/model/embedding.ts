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
import { adviseHugePages } from '../engine/addon.js';
import { tsKernels, type Kernels } from '../engine/kernels.js';

/** Tables at least this big (bytes) ask for transparent huge pages before their first write. */
const HUGE_PAGE_MIN_BYTES = 64 * 2 ** 20;

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

  /** @param shared allocate weights, accumulators and touched bits in SharedArrayBuffers (parallel workers, parallel/) */
  constructor(rows: number, dim: number, opt: SparseOptConfig, shared = false) {
    if (!Number.isInteger(rows) || rows < 1) throw badConfig('rows', `embedding table rows ${rows} is not a positive integer`);
    if (!Number.isInteger(dim) || dim < 1) throw badConfig('model.dim', `${dim} is not a positive integer`);
    if (opt.kind !== 'sgd' && opt.kind !== 'adagrad') throw badConfig('optimizer', `'${String(opt.kind)}' is not sgd or adagrad`);
    if (!(opt.lr > 0) || !Number.isFinite(opt.lr)) throw badConfig('lr', `${opt.lr} is not a positive number`);
    this.rows = rows;
    this.dim = dim;
    this.opt = { ...opt };
    try {
      this.weights = shared ? new Float32Array(new SharedArrayBuffer(rows * dim * 4)) : new Float32Array(rows * dim);
    } catch (err) {
      throw new PipelineError('internal', `cannot allocate an embedding table of ${rows}×${dim} floats (${((rows * dim * 4) / 2 ** 30).toFixed(2)} GiB)`, {
        cause: err, hint: 'lower the row count (preprocess --max-ind-range / --freq-threshold) or the dim',
      });
    }
    if (this.weights.byteLength >= HUGE_PAGE_MIN_BYTES) adviseHugePages(this.weights);
    // zero-initialised already: a fill(0) would make every page resident (the redis backend leaves cold rows untouched)
    this.accum = opt.kind === 'adagrad' ? (shared ? new Float32Array(new SharedArrayBuffer(rows * 4)) : new Float32Array(rows)) : null;
    if (this.accum && opt.initAccum) this.accum.fill(opt.initAccum);
    this.touched = shared ? new Uint8Array(new SharedArrayBuffer((rows + 7) >>> 3)) : new Uint8Array((rows + 7) >>> 3);
  }

  /**
   * Fill with U(−bound, bound) as DLRM. Draws four uint32 from `rng` to seed a local
   * xoshiro128** kept in int32 locals (Rng's own per-call cost is ~100 ns, minutes for the
   * 540M floats of the Kaggle tables; this runs at a few ns per float). Deterministic in `rng`.
   * @param bound @default sqrt(1/rows)
   */
  initUniform(rng: Rng, bound: number = Math.sqrt(1 / this.rows)): void {
    const w = this.weights;
    const state = new Int32Array([rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()]);
    if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1;
    // chunks, so the kernel is optimised as a function rather than through on-stack replacement
    const CHUNK = 1 << 20;
    for (let s = 0; s < w.length; s += CHUNK) fillUniform(w, s, Math.min(w.length, s + CHUNK), state, bound);
  }

  /** Is row r marked as updated since the last clear? */
  isTouched(r: number): boolean {
    return (this.touched[r >>> 3]! & (1 << (r & 7))) !== 0;
  }
}

/** w[start..end) = U(−bound, bound) from the xoshiro128** state (4 int32, updated in place). */
export function fillUniform(w: Float32Array, start: number, end: number, state: Int32Array, bound: number): void {
  const scale = (2 * bound) / 4294967296;
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  for (let i = start; i < end; i++) {
    const x = Math.imul(b, 5);
    const r = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = (d << 11) | (d >>> 21);
    w[i] = r * scale - bound;
  }
  state[0] = a;
  state[1] = b;
  state[2] = c;
  state[3] = d;
}

function badId(f: number, b: number, id: number, rows: number): PipelineError {
  return new PipelineError('bad_input', `embedding id ${id} of column ${f} in batch row ${b} is outside table rows [0, ${rows})`, {
    field: `C${f + 1}`, actual: String(id), expected: `0 ≤ id < ${rows}`,
    hint: 'the data and the table sizes come from different preprocess runs, or the hot remap is stale',
  });
}

/** Table weights and row counts as flat lists for the kernels, cached per tables array. */
const views = new WeakMap<EmbeddingTable[], { weights: Float32Array[]; rows: Int32Array }>();

function tableViews(tables: EmbeddingTable[]): { weights: Float32Array[]; rows: Int32Array } {
  let v = views.get(tables);
  if (!v || v.weights.length !== tables.length || v.weights.some((w, f) => w !== tables[f]!.weights)) {
    v = { weights: tables.map((t) => t.weights), rows: Int32Array.from(tables, (t) => t.rows) };
    views.set(tables, v);
  }
  return v;
}

/**
 * out[b, f, :] = tables[f].weights[cats[b, f], :].
 * @param cats B×F ids, F = tables.length
 * @param out  B×F×dim
 * @param kernels native or TypeScript kernels (the engine's); @default the TypeScript ones
 */
export function gatherBatch(tables: EmbeddingTable[], cats: Int32Array, B: number, out: Float32Array, kernels: Kernels = tsKernels): void {
  const F = tables.length;
  if (F === 0) return;
  const d = tables[0]!.dim;
  for (let f = 0; f < F; f++) {
    if (tables[f]!.dim !== d) throw new PipelineError('internal', `gatherBatch: table ${f} has dim ${tables[f]!.dim}, table 0 has ${d}`);
  }
  const { weights, rows } = tableViews(tables);
  const bad = kernels.gather(out, weights, rows, cats, B, F, d);
  if (bad >= 0) throw badId(bad % F, Math.floor(bad / F), cats[bad]!, rows[bad % F]!);
}

/** Columns served by the table being updated (scratch). */
let colsScratch = new Int32Array(0);

/**
 * Sparse update of the tables from grad (B×F×dim, e.g. Dlrm.backward's embGrad): for each
 * distinct table, duplicate ids across the batch and across the columns it serves are summed
 * into one gradient per row, then the table's optimizer updates each row once and sets its
 * touched bit. Rows are visited in first-seen order (b-major, then f), so results are
 * deterministic.
 * @param kernels native or TypeScript kernels (the engine's); @default the TypeScript ones
 */
export function scatterUpdate(tables: EmbeddingTable[], cats: Int32Array, B: number, grad: Float32Array, kernels: Kernels = tsKernels): void {
  const F = tables.length;
  if (colsScratch.length < F) colsScratch = new Int32Array(F);
  const cols = colsScratch;
  for (let f = 0; f < F; f++) {
    const t = tables[f]!;
    // each distinct table is handled once, at its first column, with the list of columns it serves
    let seen = false;
    for (let g = 0; g < f; g++) if (tables[g] === t) { seen = true; break; }
    if (seen) continue;
    let nc = 0;
    for (let g = f; g < F; g++) if (tables[g] === t) cols[nc++] = g;
    const bad = kernels.scatterTable(t.weights, t.accum, t.touched, t.rows, t.dim, cols, nc, F, cats, B, grad, t.opt.lr, t.opt.eps ?? 1e-10);
    if (bad >= 0) throw badId(bad % F, Math.floor(bad / F), cats[bad]!, t.rows);
  }
}
