import { describe, expect, it } from 'vitest';
import { tsEngine } from '../../stages/train/engine/engine.js';
import { bitsOf, linearBackward, linearForward, reluBackward, sigmoidBceForwardBackward } from '../../stages/train/model/layers.js';
import {
  interactionBackward, interactionBackwardLoops, interactionForward, interactionForwardLoops, interactionWidth,
} from '../../stages/train/model/interaction.js';
import { Rng } from '../../pipeline/rng.js';

const EPS = 1e-3;

function rand(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.float() * 2 - 1) * scale;
  return a;
}

const ones = (n: number): Float32Array => new Float32Array(n).fill(1);

/** Σ out·proj in float64: a scalar loss whose gradient wrt out is proj. */
function project(out: Float32Array, proj: Float32Array): number {
  let s = 0;
  for (let i = 0; i < proj.length; i++) s += out[i]! * proj[i]!;
  return s;
}

/**
 * Central finite differences of loss() wrt every entry of x, compared with the analytic
 * gradient: returns the worst relative error |a − n| / max(|a|, |n|, 1e-2).
 */
function fdCheck(x: Float32Array, analytic: Float32Array, loss: () => number): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]!;
    x[i] = x0 + EPS;
    const lp = loss();
    x[i] = x0 - EPS;
    const lm = loss();
    x[i] = x0;
    const num = (lp - lm) / (2 * EPS);
    const a = analytic[i]!;
    worst = Math.max(worst, Math.abs(a - num) / Math.max(Math.abs(a), Math.abs(num), 1e-2));
  }
  return worst;
}

describe('linear (+ReLU) forward/backward', () => {
  for (const relu of [false, true]) {
    it(`gradients match finite differences (relu=${relu})`, () => {
      const rng = new Rng(relu ? 2 : 1);
      const B = 4, I = 5, O = 3;
      const inp = rand(rng, B * I), w = rand(rng, O * I), b = rand(rng, O, 0.2), proj = rand(rng, B * O);
      const out = new Float32Array(B * O), outBits = relu ? bitsOf(out) : null;
      const loss = (): number => { linearForward(tsEngine, out, outBits, inp, w, b, B, I, O); return project(out, proj); };
      loss();
      if (relu) expect(Math.min(...out)).toBe(0); // some units are off, so the mask is exercised
      const dout = Float32Array.from(proj);
      if (outBits) reluBackward(bitsOf(dout), outBits, B * O);
      const dinp = new Float32Array(B * I), dw = new Float32Array(O * I), db = new Float32Array(O);
      linearBackward(tsEngine, dinp, dw, db, dout, inp, w, ones(B), B, I, O);
      const errs = [fdCheck(inp, dinp, loss), fdCheck(w, dw, loss), fdCheck(b, db, loss)];
      console.log(`linear relu=${relu}: worst rel err inp/w/b ${errs.map((e) => e.toExponential(1)).join(' ')}`);
      for (const e of errs) expect(e).toBeLessThan(1e-2);
    });
  }

  it('backward adds into weight/bias gradients (cleared by the caller) and overwrites dinp', () => {
    const rng = new Rng(3);
    const B = 2, I = 3, O = 2;
    const inp = rand(rng, B * I), w = rand(rng, O * I), dout = rand(rng, B * O);
    const dw1 = new Float32Array(O * I), db1 = new Float32Array(O), dinp = new Float32Array(B * I).fill(99);
    linearBackward(tsEngine, dinp, dw1, db1, dout, inp, w, ones(B), B, I, O);
    const dw2 = Float32Array.from(dw1), db2 = Float32Array.from(db1);
    linearBackward(tsEngine, dinp, dw2, db2, dout, inp, w, ones(B), B, I, O);
    for (let i = 0; i < dw1.length; i++) expect(dw2[i]).toBeCloseTo(2 * dw1[i]!, 5);
    for (let i = 0; i < db1.length; i++) expect(db2[i]).toBeCloseTo(2 * db1[i]!, 5);
    for (let i = 0; i < dinp.length; i++) expect(Math.abs(dinp[i]!)).toBeLessThan(10);
  });
});

describe('branchless ReLU', () => {
  it('forward zeroes negatives (tiny ones too) and keeps positives; backward masks where out is 0', () => {
    // out[b] = inp[b]·1 + 0
    const inp = new Float32Array([-2, 0, 1e-30, 3, -1e-30, -0]);
    const out = new Float32Array(6), bits = bitsOf(out);
    linearForward(tsEngine, out, bits, inp, new Float32Array([1]), new Float32Array([0]), 6, 1, 1);
    expect(Array.from(out)).toEqual([0, 0, Math.fround(1e-30), 3, 0, 0]);
    for (const v of out) expect(Object.is(v, -0)).toBe(false);
    const g = new Float32Array([1, 2, 3, 4, 5, 6]);
    reluBackward(bitsOf(g), bits, 6);
    expect(Array.from(g)).toEqual([0, 0, 3, 4, 0, 0]);
  });
});

describe('sigmoid + BCE', () => {
  it('loss is stable for large logits and its gradient matches finite differences', () => {
    const B = 6;
    const z = new Float32Array([-3, -0.5, 0, 0.7, 2.5, 1]);
    const y = new Float32Array([0, 1, 1, 0, 1, 0]);
    const prob = new Float32Array(B), dz = new Float32Array(B), scratch = new Float32Array(B);
    sigmoidBceForwardBackward(prob, dz, z, y, B);
    const loss = (): number => sigmoidBceForwardBackward(prob, scratch, z, y, B);
    const err = fdCheck(z, Float32Array.from(dz), loss);
    console.log(`bce: worst rel err ${err.toExponential(1)}`);
    expect(err).toBeLessThan(1e-2);
    // mean BCE by definition, float64
    sigmoidBceForwardBackward(prob, dz, z, y, B);
    let ref = 0;
    for (let b = 0; b < B; b++) { const p = 1 / (1 + Math.exp(-z[b]!)); ref -= y[b]! ? Math.log(p) : Math.log(1 - p); }
    expect(loss()).toBeCloseTo(ref / B, 6);
    // logits far beyond float range of exp stay finite
    const big = new Float32Array([200, -200]);
    const l = sigmoidBceForwardBackward(prob, dz, big, new Float32Array([0, 1]), 2);
    expect(l).toBeCloseTo(200, 3);
    expect(Array.from(dz.subarray(0, 2))).toEqual([0.5, -0.5]);
  });
});

describe('dot interaction', () => {
  it('forward matches a hand-computed example (d=2, F=2)', () => {
    // T = [bot, e1, e2] = [(1,2), (3,-1), (0,4)]
    // pairs in DLRM order: (1,0)=1·3+2·(-1)=1, (2,0)=0+8=8, (2,1)=0-4=-4
    const bot = new Float32Array([1, 2]), emb = new Float32Array([3, -1, 0, 4]);
    const W = interactionWidth(2, 2);
    expect(W).toBe(5);
    const out = new Float32Array(W), tc = new Float32Array(6);
    interactionForward(out, tc, bot, emb, 1, 2, 2);
    expect(Array.from(out)).toEqual([1, 2, 1, 8, -4]);
  });

  it('backward matches a hand-computed example', () => {
    const bot = new Float32Array([1, 2]), emb = new Float32Array([3, -1, 0, 4]);
    const out = new Float32Array(5), tc = new Float32Array(6);
    interactionForward(out, tc, bot, emb, 1, 2, 2);
    // dR = [dbot0, dbot1, dZ10, dZ20, dZ21] = [0.5, -1, 1, 2, 3]
    const dR = new Float32Array([0.5, -1, 1, 2, 3]);
    const dbot = new Float32Array(2), demb = new Float32Array(4);
    interactionBackward(dbot, demb, dR, tc, new Float32Array(6), 1, 2, 2);
    // dT0 = 1·T1 + 2·T2 = (3,-1)+(0,8) = (3,7); dbot = (0.5,-1) + (3,7)
    expect(Array.from(dbot)).toEqual([3.5, 6]);
    // dT1 = 1·T0 + 3·T2 = (1,2)+(0,12) = (1,14); dT2 = 2·T0 + 3·T1 = (2,4)+(9,-3) = (11,1)
    expect(Array.from(demb)).toEqual([1, 14, 11, 1]);
  });

  it('the 27-vector Criteo layout has width 367 for dim 16', () => {
    expect(interactionWidth(16, 26)).toBe(367);
  });

  it('gradients match finite differences (B=3, F=4, d=3)', () => {
    const rng = new Rng(7);
    const B = 3, F = 4, d = 3, W = interactionWidth(d, F);
    const bot = rand(rng, B * d), emb = rand(rng, B * F * d), proj = rand(rng, B * W);
    const out = new Float32Array(B * W), tc = new Float32Array(B * (F + 1) * d);
    const loss = (): number => { interactionForward(out, tc, bot, emb, B, F, d); return project(out, proj); };
    loss();
    const dbot = new Float32Array(B * d), demb = new Float32Array(B * F * d);
    interactionBackward(dbot, demb, proj, tc, new Float32Array((F + 1) * d), B, F, d);
    const errs = [fdCheck(bot, dbot, loss), fdCheck(emb, demb, loss)];
    console.log(`interaction: worst rel err bot/emb ${errs.map((e) => e.toExponential(1)).join(' ')}`);
    for (const e of errs) expect(e).toBeLessThan(1e-2);
  });

  it('the unrolled d=16 kernels agree with the loop versions (B=5, F=26)', () => {
    const rng = new Rng(8);
    const B = 5, F = 26, d = 16, W = interactionWidth(d, F), V = F + 1;
    const bot = rand(rng, B * d), emb = rand(rng, B * F * d), dout = rand(rng, B * W);
    const o1 = new Float32Array(B * W), o2 = new Float32Array(B * W);
    const t1 = new Float32Array(B * V * d), t2 = new Float32Array(B * V * d);
    interactionForward(o1, t1, bot, emb, B, F, d);
    interactionForwardLoops(o2, t2, bot, emb, B, F, d);
    const db1 = new Float32Array(B * d), db2 = new Float32Array(B * d), de1 = new Float32Array(B * F * d), de2 = new Float32Array(B * F * d);
    interactionBackward(db1, de1, dout, t1, new Float32Array(V * d), B, F, d);
    interactionBackwardLoops(db2, de2, dout, t2, new Float32Array(V * d), B, F, d);
    const maxdiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
    const diffs = [maxdiff(o1, o2), maxdiff(db1, db2), maxdiff(de1, de2)];
    console.log(`interaction d=16 kernel vs loops: maxdiff out/dbot/demb ${diffs.map((x) => x.toExponential(1)).join(' ')}`);
    for (const x of diffs) expect(x).toBeLessThan(1e-5);
  });
});
