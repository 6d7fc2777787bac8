import { describe, expect, it } from 'vitest';
import { Rng } from '../../../pipeline/rng.js';
import { allocBatch, NUM_TABLES, type Batch } from '../../../stages/train/data/batch.js';
import { EmbeddingTable, fillUniform } from '../../../stages/train/model/embedding.js';
import { applyJump, jumpPoly, RowInit, tableSeeds } from '../../../stages/train/store/lazy-init.js';
import { ReadAhead } from '../../../stages/train/store/read-ahead.js';
import type { BatchSource } from '../../../stages/train/store/types.js';

describe('lazy rows: initial values by row id', () => {
  it('a jump of k draws lands where k steps do', () => {
    for (const k of [1, 2, 31, 32, 1000, 65_537]) {
      const a = new Int32Array([0x1234567, -5, 77, 0x7fffffff]);
      const b = a.slice();
      const sink = new Float32Array(k);
      fillUniform(sink, 0, k, a, 1); // k steps
      applyJump(b, jumpPoly(k));
      expect(Array.from(b)).toEqual(Array.from(a));
    }
  });

  it('every row equals the memory backend\'s EmbeddingTable.initUniform, bit for bit, in any order', () => {
    const sizes = [3, 33, 1000, 70_001];
    const dim = 7;
    const opt = { kind: 'adagrad' as const, lr: 0.1, initAccum: 0.25 };
    const tabs = sizes.map((n) => new EmbeddingTable(n, dim, opt));
    const rng = new Rng(42);
    for (const t of tabs) t.initUniform(rng);
    const ri = new RowInit(tableSeeds(new Rng(42), sizes.length), sizes, dim, 0.25);
    const out = new Float32Array(dim + 1);
    const pick = new Rng(1);
    for (let i = 0; i < 3000; i++) {
      const t = pick.int(sizes.length);
      const r = i < 40 ? sizes[t]! - 1 - (i % 3) : pick.int(sizes[t]!);
      if (r < 0) continue;
      ri.row(t, r, out, 0, true);
      expect(Buffer.from(out.buffer, 0, dim * 4).equals(Buffer.from(tabs[t]!.weights.buffer, r * dim * 4, dim * 4))).toBe(true);
      expect(out[dim]).toBe(0.25);
    }
    const blk = new Float32Array(50 * (dim + 1));
    ri.rows(3, 69_950, 50, blk, dim + 1);
    for (let i = 0; i < 50; i++) expect(Array.from(blk.subarray(i * (dim + 1), i * (dim + 1) + dim))).toEqual(Array.from(tabs[3]!.weights.subarray((69_950 + i) * dim, (69_951 + i) * dim)));
  });

  it('the table seeds are drawn as the memory backend draws them (four per table, in order)', () => {
    const a = new Rng(9);
    const seeds = tableSeeds(a, 3);
    const b = new Rng(9);
    for (const s of seeds) for (const x of s) expect(x).toBe(b.nextU32() | 0);
    expect(a.nextU32()).toBe(b.nextU32());
  });
});

describe('ReadAhead (evaluation with the redis backend)', () => {
  it('announces the next batches before the current one is handed out, in order, and restarts cleanly', async () => {
    const B = 4;
    const n = 7;
    let at = 0;
    const src: BatchSource = {
      start: (_e, from) => { at = from; },
      next: async (b: Batch) => {
        if (at >= n) return false;
        b.size = B;
        b.cats.fill(at, 0, B * NUM_TABLES);
        b.labels.fill(at, 0, B);
        at++;
        return true;
      },
    };
    const announced: number[] = [];
    let resets = 0;
    const ra = new ReadAhead(src, B, 3, (cats) => announced.push(cats[0]!), () => { resets++; });
    ra.start(0, 0);
    const b = allocBatch(B);
    const got: number[] = [];
    while (await ra.next(b)) {
      got.push(b.cats[0]!);
      // batch j is handed out once j+1 and j+2 (as far as they exist) were announced
      expect(announced.length).toBeGreaterThanOrEqual(Math.min(n, got[got.length - 1]! + 3));
      expect(b.labels[0]).toBe(b.cats[0]);
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(announced).toEqual([0, 1, 2, 3, 4, 5, 6]);
    ra.start(0, 5);
    expect(resets).toBe(2);
    got.length = 0;
    while (await ra.next(b)) got.push(b.cats[0]!);
    expect(got).toEqual([5, 6]);
  });
});
