import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../pipeline/rng.js';
import { blasAvailable } from '../../../stages/train/engine/engine.js';
import { allocShared, ownerOf } from '../../../stages/train/parallel/shared.js';

function tsWorker(file: string, data: unknown): Worker {
  const entry = new URL(file, import.meta.url).href;
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  return new Worker(`import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`, { eval: true, workerData: data });
}

describe('parallel sparse updates under contention', () => {
  const kinds = blasAvailable() ? ['ts', 'native'] : ['ts'];
  for (const [K, kind] of [2, 4].flatMap((k) => kinds.map((c) => [k, c] as const))) {
    it(`${K} threads updating the same few rows at once lose no update and apply none twice (count-based, ${kind} kernels)`, async () => {
      const F = 26;
      const dim = 4;
      const rowsPer = 3; // 3 rows per table: every row is hit by every worker in every step
      const H = 5;
      const B = 64;
      const rounds = 40;
      const sab = (n: number): Float32Array => new Float32Array(new SharedArrayBuffer(n * 4));
      const weights = [...Array.from({ length: F }, () => sab(rowsPer * dim)), sab(H * dim)];
      const rows = [...new Array<number>(F).fill(rowsPer), H];
      const L = allocShared({ K, cap: B, dim, P: 1, H, hotBound: 0, adagrad: false, weights, accum: weights.map(() => null), rows, reverse: null, owners: null });
      const rng = new Rng(7);
      const count = rows.map((n) => new Float64Array(n));
      const per = Array.from({ length: K }, () => {
        const cold = Int32Array.from({ length: B * F }, (_, i) => { const r = rng.int(rowsPer); count[i % F]![r]! += rounds / 2; return r; });
        const hot = Int32Array.from({ length: B * F }, () => { const h = rng.int(H); count[F]![h]! += rounds / 2; return h; });
        return { cold, hot };
      });
      L.sizes.fill(B);
      const remote = await Promise.all(per.map((p, index) => new Promise<number>((resolve, reject) => {
        const w = tsWorker('./contention-worker.ts', { layout: L, index, rounds, coldCats: p.cold, hotCats: p.hot, native: kind === 'native' });
        w.once('message', (m: { remote: number; kernels: string }) => {
          if (m.kernels !== kind) reject(new Error(`the worker ran the ${m.kernels} kernels, not ${kind}`));
          resolve(m.remote);
        });
        w.once('error', reject);
      })));
      // SGD, lr 1, every gradient −1: each row moved by exactly the number of its lookups
      for (let t = 0; t <= F; t++) {
        for (let r = 0; r < rows[t]!; r++) {
          for (let c = 0; c < dim; c++) expect(weights[t]![r * dim + c]).toBe(count[t]![r]!);
        }
      }
      // the rows really were shared: most updates crossed to another owner
      expect(remote.reduce((a, b) => a + b, 0)).toBeGreaterThan(0.3 * K * B * F * rounds * (K - 1) / K);
      // ownership: every row has exactly one owner in 0..K−1
      for (let r = 0; r < rowsPer; r++) expect(ownerOf(null, 0, r, K)).toBeLessThan(K);
    }, 60_000);
  }
});
