// The native parallel kernels (native/blas/parallel.cc) against their TypeScript twins
// (stages/train/parallel/route-kernels.ts): bit-identical on random shapes, duplicate ids,
// hot and cold batches, replicas, graph owners, SGD and Adagrad, slices of 0 and 1 rows.
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../pipeline/rng.js';
import { blasAvailable, createEngine } from '../../../stages/train/engine/engine.js';
import { tsParallelKernels, type ParallelKernels } from '../../../stages/train/parallel/route-kernels.js';

const F = 26;
const T = 27;

interface Case { K: number; d: number; sizes: number[]; H: number; hot: boolean; replica: boolean; graph: boolean; adagrad: boolean; rev: boolean; seed: number }

function world(c: Case) {
  const rng = new Rng(c.seed);
  const rows = Int32Array.from({ length: T }, (_, t) => (t === F ? c.H : 1 + rng.int(t % 3 === 0 ? 3 : 40)));
  const tables = Array.from({ length: T }, (_, t) => Float32Array.from({ length: Math.max(1, rows[t]!) * c.d }, () => rng.float() - 0.5));
  const accum = Array.from({ length: T }, (_, t) => (c.adagrad ? Float32Array.from({ length: Math.max(1, rows[t]!) }, () => rng.float()) : null));
  const reverse = c.rev && c.H > 0 ? Array.from({ length: F }, (_, f) => Int32Array.from({ length: rows[f]! }, () => (rng.float() < 0.4 ? rng.int(c.H) : -1))) : null;
  const owners = c.graph ? Array.from({ length: T }, (_, t) => Uint8Array.from({ length: rows[t]! }, () => (rng.float() < 0.2 ? 255 : rng.int(c.K)))) : null;
  const cap = Math.max(1, ...c.sizes);
  const cats = c.sizes.map((Bk) => Int32Array.from({ length: Bk * F }, (_, i) => rng.int(c.hot ? c.H : rows[i % F]!)));
  return { rng, rows, tables, accum, reverse, owners, cap, cats };
}

type World = ReturnType<typeof world>;

function route(kern: ParallelKernels, c: Case, w: World) {
  const nk1 = c.K * T + 1;
  const all = c.K * w.cap * F;
  const tgtRow = new Int32Array(all);
  const ord = new Int32Array(all);
  const seg = new Int32Array(c.K * nk1);
  const emb = new Float32Array(all * c.d);
  const ret: number[] = [];
  for (let k = 0; k < c.K; k++) {
    const n = c.sizes[k]! * F;
    const base = k * w.cap * F;
    ret.push(kern.parRoute(
      emb.subarray(base * c.d, (base + n) * c.d), w.cats[k]!, n, F, c.d, c.hot, w.tables, w.rows, w.reverse, w.owners, c.K, k, c.replica,
      tgtRow.subarray(base, base + n), ord.subarray(base, base + n), seg.subarray(k * nk1, (k + 1) * nk1), new Int32Array(n),
    ));
  }
  return { tgtRow, ord, seg, emb, ret };
}

function apply(kern: ParallelKernels, c: Case, w: World, r: ReturnType<typeof route>, eg: Float32Array) {
  const weights = w.tables.map((t) => t.slice());
  const accum = w.accum.map((a) => a?.slice() ?? null);
  const touched = Array.from({ length: c.K }, () => Array.from(w.rows, (n) => new Uint8Array((n + 7) >>> 3)));
  const B = c.sizes.reduce((a, b) => a + b, 0);
  const dirty = Array.from({ length: c.K }, () => new Uint8Array(c.H));
  const dirtyList = Array.from({ length: c.K }, () => new Int32Array(c.H));
  const nDirty = Array.from({ length: c.K }, () => new Int32Array(1));
  const outs: number[][] = [];
  for (let k = 0; k < c.K; k++) {
    const out = new Float64Array(3);
    const bad = kern.parApply(
      eg, r.ord, r.tgtRow, r.seg, Int32Array.from(c.sizes), Math.max(1, B), c.K, k, w.cap, F, c.d, weights, accum, touched[k]!, w.rows,
      c.H > 0, 0.05, 1e-8, c.replica ? dirty[k]! : null, c.replica ? dirtyList[k]! : null, c.replica ? nDirty[k]! : null, out,
    );
    outs.push([bad, ...out]);
  }
  return { weights, accum, touched, dirty, dirtyList, nDirty, outs };
}

const cases: Case[] = [];
{
  let seed = 1;
  for (const K of [1, 2, 3]) {
    for (const d of [16, 3]) {
      for (const hot of [false, true]) {
        const sizes = K === 1 ? [5] : K === 2 ? [7, 1] : [4, 0, 9];
        cases.push({ K, d, sizes, H: 6, hot, replica: K > 1 && hot, graph: K === 3, adagrad: seed % 2 === 0, rev: true, seed: seed++ });
      }
    }
  }
  cases.push({ K: 2, d: 16, sizes: [8, 8], H: 0, hot: false, replica: false, graph: false, adagrad: true, rev: false, seed: 99 });
  cases.push({ K: 2, d: 8, sizes: [33, 32], H: 4, hot: false, replica: true, graph: true, adagrad: false, rev: true, seed: 100 });
}

describe.skipIf(!blasAvailable())('parallel kernels: native parRoute / parApply = the TypeScript twins', () => {
  const native = createEngine('blas', 1, 'native').kernels.parallel;
  it('the addon has them', () => expect(native.name).toBe('native'));
  for (const c of cases) {
    it(`K ${c.K}, d ${c.d}, ${c.hot ? 'hot' : 'cold'} batch, slices ${c.sizes.join('/')}, H ${c.H}${c.replica ? ', replicas' : ''}${c.graph ? ', graph owners' : ''}, ${c.adagrad ? 'adagrad' : 'sgd'}`, () => {
      if (c.hot && c.H === 0) return;
      const w = world(c);
      const a = route(tsParallelKernels, c, w);
      const b = route(native, c, w);
      expect(b.ret).toEqual(a.ret);
      expect(b.tgtRow).toEqual(a.tgtRow);
      expect(b.ord).toEqual(a.ord);
      expect(b.seg).toEqual(a.seg);
      expect(b.emb).toEqual(a.emb);
      // every lookup's embedding row is its target's row
      const eg = Float32Array.from({ length: a.emb.length }, () => w.rng.float() - 0.5);
      const x = apply(tsParallelKernels, c, w, a, eg);
      const y = apply(native, c, w, a, eg);
      expect(y.outs).toEqual(x.outs);
      for (let t = 0; t < T; t++) {
        expect(Buffer.from(y.weights[t]!.buffer).equals(Buffer.from(x.weights[t]!.buffer))).toBe(true);
        if (x.accum[t]) expect(Buffer.from(y.accum[t]!.buffer).equals(Buffer.from(x.accum[t]!.buffer))).toBe(true);
      }
      expect(y.touched).toEqual(x.touched);
      expect(y.nDirty).toEqual(x.nDirty);
      expect(y.dirtyList).toEqual(x.dirtyList);
      expect(y.dirty).toEqual(x.dirty);
      // something was updated (a test that cannot fail is no test)
      const changed = x.weights.some((t, i) => t.some((v, j) => v !== w.tables[i]![j]));
      expect(changed).toBe(c.sizes.some((s) => s > 0));
    });
  }
  it('a bad id: both return −(i + 1) for the first one and leave emb untouched', () => {
    const c = cases[2]!;
    const w = world(c);
    w.cats[0]![F + 3] = w.rows[3]!; // row 1, column 3: one past the table
    for (const kern of [tsParallelKernels, native]) {
      const n = c.sizes[0]! * F;
      const emb = new Float32Array(n * c.d).fill(7);
      const r = kern.parRoute(emb, w.cats[0]!, n, F, c.d, false, w.tables, w.rows, w.reverse, w.owners, c.K, 0, false,
        new Int32Array(n), new Int32Array(n), new Int32Array(c.K * T + 1), new Int32Array(n));
      expect(r).toBe(-(F + 3 + 1));
      expect(emb.every((v) => v === 7)).toBe(true);
    }
  });
});

describe('parallel kernels: the TypeScript twin routes as the owners say', () => {
  it('sorts lookups by (owner, target) and gathers each from its target table', () => {
    const c: Case = { K: 2, d: 4, sizes: [6, 6], H: 5, hot: false, replica: false, graph: true, adagrad: false, rev: true, seed: 5 };
    const w = world(c);
    const r = route(tsParallelKernels, c, w);
    const nk1 = c.K * T + 1;
    for (let k = 0; k < c.K; k++) {
      const base = k * w.cap * F;
      const seg = r.seg.subarray(k * nk1, (k + 1) * nk1);
      for (let key = 0; key < c.K * T; key++) {
        for (let p = seg[key]!; p < seg[key + 1]!; p++) {
          const i = r.ord[base + p]!;
          const t = key % T;
          const f = i % F;
          const id = w.cats[k]![i]!;
          const h = w.reverse![f]![id]!;
          expect(t).toBe(h >= 0 ? F : f);
          expect(r.tgtRow[base + i]).toBe(h >= 0 ? h : id);
          const row = w.tables[t]!.subarray(r.tgtRow[base + i]! * c.d, (r.tgtRow[base + i]! + 1) * c.d);
          expect(Array.from(r.emb.subarray((base + i) * c.d, (base + i + 1) * c.d))).toEqual(Array.from(row));
        }
      }
    }
  });
});
