import { describe, expect, it } from 'vitest';
import { blasAvailable, createEngine, tsEngine, type Engine } from '../../stages/train/engine/engine.js';
import { Dlrm, parseArch, type DlrmShape } from '../../stages/train/model/dlrm.js';
import { DenseOptimizer } from '../../stages/train/model/optim.js';
import { EmbeddingTable, gatherBatch, scatterUpdate } from '../../stages/train/model/embedding.js';
import { PipelineError } from '../../pipeline/errors.js';
import { Rng } from '../../pipeline/rng.js';

const EPS = 1e-3;

function batch(rng: Rng, B: number, F: number, d: number): { dense: Float32Array; emb: Float32Array; labels: Float32Array } {
  const dense = new Float32Array(B * 13), emb = new Float32Array(B * F * d), labels = new Float32Array(B);
  for (let i = 0; i < dense.length; i++) dense[i] = Math.log1p(rng.float() * 10);
  for (let i = 0; i < emb.length; i++) emb[i] = rng.float() - 0.5;
  for (let b = 0; b < B; b++) labels[b] = rng.float() < 0.4 ? 1 : 0;
  return { dense, emb, labels };
}

function badConfigField(fn: () => unknown): string | undefined {
  try { fn(); } catch (e) { if (e instanceof PipelineError && e.code === 'bad_config') return e.field; throw e; }
  return undefined;
}

describe('parseArch', () => {
  it('derives the top input width from dim and tables (DLRM spelling)', () => {
    const s = parseArch('13-512-256-64-16', '512-256-1', 16);
    expect(s).toEqual({ dim: 16, numTables: 26, bot: [13, 512, 256, 64, 16], top: [367, 512, 256, 1] });
    expect(parseArch('13-512-256-64-16', '367-512-256-1', 16)).toEqual(s);
    expect(parseArch('13-64-16', '64-1', 16).top).toEqual([367, 64, 1]);
    expect(parseArch('13-8-4', '6-1', 4, 3).top).toEqual([10, 6, 1]);
  });
  it('names the field of a bad architecture', () => {
    expect(badConfigField(() => parseArch('13-512-256-64-32', '512-256-1', 16))).toBe('model.mlpBot');
    expect(badConfigField(() => parseArch('12-64-16', '64-1', 16))).toBe('model.mlpBot');
    expect(badConfigField(() => parseArch('13-64-16', '64-2', 16))).toBe('model.mlpTop');
    expect(badConfigField(() => parseArch('13-6x4-16', '64-1', 16))).toBe('model.mlpBot');
    expect(badConfigField(() => parseArch('13-64-16', '64-1', 0))).toBe('model.dim');
    const shape: DlrmShape = { dim: 16, numTables: 26, bot: [13, 16], top: [366, 1] };
    expect(badConfigField(() => new Dlrm(shape, tsEngine, new Rng(1)))).toBe('model.mlpTop');
  });
});

describe('Dlrm', () => {
  const shape = parseArch('13-8-4', '6-1', 4, 3); // top 10-6-1

  it('keeps params in one allocation with stable named views and DLRM-scaled init', () => {
    const m = new Dlrm(parseArch('13-512-256-64-16', '512-256-1', 16), tsEngine, new Rng(1));
    const v = m.paramViews();
    expect(Object.keys(v)).toEqual([
      'bot.0.w', 'bot.0.b', 'bot.1.w', 'bot.1.b', 'bot.2.w', 'bot.2.b', 'bot.3.w', 'bot.3.b',
      'top.0.w', 'top.0.b', 'top.1.w', 'top.1.b', 'top.2.w', 'top.2.b',
    ]);
    let total = 0;
    for (const a of Object.values(v)) { expect(a.buffer).toBe(m.params.buffer); total += a.length; }
    expect(total).toBe(m.params.length);
    expect(v['top.0.w']!.length).toBe(512 * 367);
    // std of top.0.w ≈ sqrt(2/(367+512))
    const w = v['top.0.w']!;
    let ss = 0;
    for (let i = 0; i < w.length; i++) ss += w[i]! * w[i]!;
    expect(Math.sqrt(ss / w.length)).toBeCloseTo(Math.sqrt(2 / 879), 3);
  });

  it('gradients wrt every parameter and embedding match finite differences', () => {
    const B = 5;
    const m = new Dlrm(shape, tsEngine, new Rng(3));
    const { dense, emb, labels } = batch(new Rng(4), B, 3, 4);
    const embGrad = new Float32Array(B * 3 * 4), scratchGrad = new Float32Array(B * 3 * 4);
    m.forward(B, dense, emb);
    const loss0 = m.backward(labels, embGrad);
    expect(loss0).toBeGreaterThan(0);
    const analytic = Float32Array.from(m.grads);
    const loss = (): number => { m.forward(B, dense, emb); return m.backward(labels, scratchGrad); };
    // ReLU kinks make a central difference wrong when a pre-activation crosses 0 inside ±eps:
    // an entry passes when it agrees at eps = 1e-3 or, failing that, at eps = 1e-4.
    const relErr = (x: Float32Array, a: Float32Array, i: number, eps: number): number => {
      const x0 = x[i]!;
      x[i] = x0 + eps; const lp = loss();
      x[i] = x0 - eps; const lm = loss();
      x[i] = x0;
      const num = (lp - lm) / (2 * eps);
      return Math.abs(a[i]! - num) / Math.max(Math.abs(a[i]!), Math.abs(num), 1e-2);
    };
    const check = (x: Float32Array, a: Float32Array): number => {
      let worst = 0;
      for (let i = 0; i < x.length; i++) {
        let e = relErr(x, a, i, EPS);
        if (e >= 2e-2) e = Math.min(e, relErr(x, a, i, EPS / 10));
        worst = Math.max(worst, e);
      }
      return worst;
    };
    const ep = check(m.params, analytic);
    const ee = check(emb, embGrad);
    console.log(`dlrm: worst rel err params ${ep.toExponential(1)}, embeddings ${ee.toExponential(1)} (${m.params.length} params)`);
    expect(ep).toBeLessThan(2e-2);
    expect(ee).toBeLessThan(2e-2);
  });

  it('forward with a smaller batch after a larger one, and a larger one after (reallocates)', () => {
    const m = new Dlrm(shape, tsEngine, new Rng(5));
    const big = batch(new Rng(6), 8, 3, 4);
    const p8 = Float32Array.from(m.forward(8, big.dense, big.emb));
    const p3 = m.forward(3, big.dense, big.emb);
    expect(p3.length).toBe(3);
    for (let b = 0; b < 3; b++) expect(p3[b]).toBeCloseTo(p8[b]!, 6);
    const huge = batch(new Rng(7), 20, 3, 4);
    expect(m.forward(20, huge.dense, huge.emb).length).toBe(20);
    expect(() => new Dlrm(shape, tsEngine, new Rng(5)).backward(big.labels, new Float32Array(96))).toThrow(/before forward/);
  });
});

/** Trains `steps` batches of a small DLRM with embeddings on the given engine; returns the losses. */
function trainLosses(engine: Engine, steps: number): number[] {
  const B = 64, F = 5, d = 8;
  const shape = parseArch('13-32-8', '16-1', d, F);
  const m = new Dlrm(shape, engine, new Rng(11));
  const opt = new DenseOptimizer('adagrad', m.params.length, { lr: 0.05 });
  const tables = Array.from({ length: F }, () => new EmbeddingTable(50, d, { kind: 'adagrad', lr: 0.05 }));
  const initRng = new Rng(12);
  for (const t of tables) t.initUniform(initRng);
  const rng = new Rng(13);
  const dense = new Float32Array(B * 13), cats = new Int32Array(B * F), labels = new Float32Array(B);
  const emb = new Float32Array(B * F * d), embGrad = new Float32Array(B * F * d);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    for (let i = 0; i < dense.length; i++) dense[i] = rng.float() * 3;
    for (let i = 0; i < cats.length; i++) cats[i] = rng.int(50);
    for (let b = 0; b < B; b++) labels[b] = (cats[b * F]! % 3 === 0) !== (dense[b * 13]! > 2) ? 1 : 0;
    gatherBatch(tables, cats, B, emb);
    m.forward(B, dense, emb);
    losses.push(m.backward(labels, embGrad));
    opt.step(m.params, m.grads);
    scatterUpdate(tables, cats, B, embGrad);
  }
  return losses;
}

describe.skipIf(!blasAvailable())('engine parity (addon built)', () => {
  it('ts and blas engines give the same losses on the same batches', () => {
    const lt = trainLosses(tsEngine, 30);
    const lb = trainLosses(createEngine('blas'), 30);
    let md = 0;
    for (let i = 0; i < lt.length; i++) md = Math.max(md, Math.abs(lt[i]! - lb[i]!) / lt[i]!);
    console.log(`engine parity: 30 steps, first loss ${lt[0]!.toFixed(5)}, last ts ${lt[29]!.toFixed(5)} blas ${lb[29]!.toFixed(5)}, max rel diff ${md.toExponential(2)}`);
    expect(md).toBeLessThan(1e-3);
    expect(lt[29]!).toBeLessThan(lt[0]!); // it learns
  });
});

if (!blasAvailable()) {
  describe('engine parity', () => {
    it.skip('SKIPPED: BLAS addon not built (run `npm run build:addon`); ts vs blas parity not checked', () => {});
  });
}
