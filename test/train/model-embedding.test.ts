import { describe, expect, it } from 'vitest';
import { EmbeddingTable, gatherBatch, scatterUpdate } from '../../stages/train/model/embedding.js';
import { DenseOptimizer } from '../../stages/train/model/optim.js';
import { PipelineError } from '../../pipeline/errors.js';
import { Rng } from '../../pipeline/rng.js';

function table(rows: number, dim: number, kind: 'sgd' | 'adagrad', lr: number, fill: (r: number, k: number) => number): EmbeddingTable {
  const t = new EmbeddingTable(rows, dim, { kind, lr, eps: 0 });
  for (let r = 0; r < rows; r++) for (let k = 0; k < dim; k++) t.weights[r * dim + k] = fill(r, k);
  return t;
}

describe('gatherBatch', () => {
  it('copies row cats[b,f] of table f into out[b,f,:]', () => {
    const t0 = table(3, 2, 'sgd', 1, (r, k) => 10 * r + k);
    const t1 = table(4, 2, 'sgd', 1, (r, k) => 100 + 10 * r + k);
    const cats = new Int32Array([2, 0, 1, 3]); // B=2, F=2
    const out = new Float32Array(8);
    gatherBatch([t0, t1], cats, 2, out);
    expect(Array.from(out)).toEqual([20, 21, 100, 101, 10, 11, 130, 131]);
  });
  it('rejects an id outside the table with a located error', () => {
    const t = table(3, 2, 'sgd', 1, () => 0);
    const err = (() => { try { gatherBatch([t], new Int32Array([1, 3]), 2, new Float32Array(4)); } catch (e) { return e; } return null; })();
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('bad_input');
    expect((err as PipelineError).message).toMatch(/id 3 of column 0 in batch row 1/);
  });
});

describe('scatterUpdate', () => {
  it('SGD: duplicate ids in a batch accumulate into one update per row', () => {
    const t = table(4, 2, 'sgd', 0.5, () => 1);
    // B=3, F=1: ids 2, 0, 2
    const grad = new Float32Array([1, 2, 3, 4, 5, 6]);
    scatterUpdate([t], new Int32Array([2, 0, 2]), 3, grad);
    // row 2: g = (1+5, 2+6) = (6, 8) → 1 − 0.5·g = (−2, −3); row 0: (1 − 1.5, 1 − 2) = (−0.5, −1)
    expect(Array.from(t.weights)).toEqual([-0.5, -1, 1, 1, -2, -3, 1, 1]);
    expect([0, 1, 2, 3].map((r) => t.isTouched(r))).toEqual([true, false, true, false]);
  });

  it('row-wise Adagrad: one accumulator per row, mean of g² over dim, duplicates summed first', () => {
    const t = new EmbeddingTable(3, 2, { kind: 'adagrad', lr: 0.1, eps: 0, initAccum: 0 });
    t.weights.fill(1);
    // ids 1, 1 with grads (1, 2) and (2, 2) → g = (3, 4); accum = (9 + 16)/2 = 12.5
    scatterUpdate([t], new Int32Array([1, 1]), 2, new Float32Array([1, 2, 2, 2]));
    expect(t.accum![1]).toBeCloseTo(12.5, 6);
    expect(t.accum![0]).toBe(0);
    const s = Math.sqrt(12.5);
    expect(t.weights[2]).toBeCloseTo(1 - (0.1 * 3) / s, 6);
    expect(t.weights[3]).toBeCloseTo(1 - (0.1 * 4) / s, 6);
    // second step on row 1 with g = (0, 1): accum = 12.5 + 0.5 = 13
    const w3 = t.weights[3]!;
    scatterUpdate([t], new Int32Array([1]), 1, new Float32Array([0, 1]));
    expect(t.accum![1]).toBeCloseTo(13, 6);
    expect(t.weights[3]).toBeCloseTo(w3 - 0.1 / Math.sqrt(13), 6);
    expect(Array.from(t.weights.subarray(0, 2))).toEqual([1, 1]); // untouched row unchanged
  });

  it('a table serving several columns accumulates across them', () => {
    const hot = table(5, 1, 'sgd', 1, () => 0);
    const other = table(5, 1, 'sgd', 1, () => 0);
    // B=2, F=3: columns 0 and 2 served by `hot`, column 1 by `other`
    const cats = new Int32Array([4, 4, 4, 1, 4, 2]);
    const grad = new Float32Array([1, 10, 100, 1000, 10000, 100000]);
    scatterUpdate([hot, other, hot], cats, 2, grad);
    // hot: row 4 ← b0 cols 0 and 2 (1 + 100); row 1 ← b1 col 0; row 2 ← b1 col 2
    expect(Array.from(hot.weights)).toEqual([0, -1000, -100000, 0, -101]);
    // other: row 4 ← b0 col 1 and b1 col 1
    expect(Array.from(other.weights)).toEqual([0, 0, 0, 0, -10010]);
  });

  it('matches a naive per-lookup accumulation on a large random batch, batch after batch', () => {
    const rng = new Rng(9);
    const rows = 97, d = 3, B = 300, F = 4;
    const tables = [0, 1, 2].map(() => new EmbeddingTable(rows, d, { kind: 'adagrad', lr: 0.05 }));
    const served = [tables[0]!, tables[1]!, tables[0]!, tables[2]!];
    for (const t of tables) t.initUniform(rng);
    const ref = tables.map((t) => ({ w: Float64Array.from(t.weights), a: new Float64Array(rows) }));
    for (let step = 0; step < 3; step++) {
      const cats = new Int32Array(B * F), grad = new Float32Array(B * F * d);
      for (let i = 0; i < cats.length; i++) cats[i] = rng.int(rows);
      for (let i = 0; i < grad.length; i++) grad[i] = rng.float() - 0.5;
      scatterUpdate(served, cats, B, grad);
      for (let ti = 0; ti < 3; ti++) {
        const g = new Float64Array(rows * d), hit = new Uint8Array(rows);
        for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) {
          if (served[f] !== tables[ti]) continue;
          const r = cats[b * F + f]!;
          hit[r] = 1;
          for (let k = 0; k < d; k++) g[r * d + k]! += grad[(b * F + f) * d + k]!;
        }
        const R = ref[ti]!;
        for (let r = 0; r < rows; r++) {
          if (!hit[r]) continue;
          let sq = 0;
          for (let k = 0; k < d; k++) sq += g[r * d + k]! ** 2;
          R.a[r]! += sq / d;
          for (let k = 0; k < d; k++) R.w[r * d + k]! -= (0.05 * g[r * d + k]!) / (Math.sqrt(R.a[r]!) + 1e-10);
        }
      }
    }
    for (let ti = 0; ti < 3; ti++) {
      let md = 0;
      for (let i = 0; i < rows * d; i++) md = Math.max(md, Math.abs(tables[ti]!.weights[i]! - ref[ti]!.w[i]!));
      expect(md).toBeLessThan(1e-5);
    }
  });

  it('initUniform draws within ±sqrt(1/rows)', () => {
    const t = new EmbeddingTable(400, 4, { kind: 'sgd', lr: 1 });
    t.initUniform(new Rng(1));
    const bound = Math.sqrt(1 / 400);
    let mx = 0;
    for (const v of t.weights) mx = Math.max(mx, Math.abs(v));
    expect(mx).toBeLessThanOrEqual(bound);
    expect(mx).toBeGreaterThan(0.9 * bound);
  });
});

describe('DenseOptimizer', () => {
  it('SGD and Adagrad arithmetic', () => {
    const p = new Float32Array([1, 2]);
    new DenseOptimizer('sgd', 2, { lr: 0.5 }).step(p, new Float32Array([2, -4]));
    expect(Array.from(p)).toEqual([0, 4]);
    const q = new Float32Array([1, 1]);
    const ada = new DenseOptimizer('adagrad', 2, { lr: 0.1, eps: 0, initAccum: 1 });
    ada.step(q, new Float32Array([3, 0]));
    expect(ada.state![0]).toBe(10);
    expect(q[0]).toBeCloseTo(1 - 0.3 / Math.sqrt(10), 6);
    expect(q[1]).toBe(1);
  });
});
