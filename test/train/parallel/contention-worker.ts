// Test worker (contention.test.ts): N rounds of "every lookup's gradient is −1 in every
// dimension" through SparseApplier over shared tables, alternating cold and hot steps.
import { workerData, parentPort } from 'node:worker_threads';
import { SparseApplier } from '../../../stages/train/parallel/apply.js';
import { barrier, S, type SharedLayout } from '../../../stages/train/parallel/shared.js';
import { createEngine } from '../../../stages/train/engine/engine.js';
import { tsKernels } from '../../../stages/train/engine/kernels.js';
import type { TrainConfig } from '../../../stages/train/config.js';

const { layout, index, rounds, hotCats, coldCats, native } = workerData as { layout: SharedLayout; index: number; rounds: number; hotCats: Int32Array; coldCats: Int32Array; native?: boolean };
const L = layout;
const cfg = { optim: { sparse: { kind: 'sgd', lr: 1, eps: 1e-8 } }, parallel: { hotBound: 0 } } as unknown as TrainConfig;
const kernels = native ? createEngine('blas', 1, 'native').kernels : tsKernels;
const ap = new SparseApplier(L, index, cfg, kernels, false);
const emb = new Float32Array(L.cap * 26 * L.dim);
const stats = new Float64Array(S.SIZE);
const F = 26;
const off = index * L.cap;
for (let r = 0; r < rounds; r++) {
  const hot = r % 2 === 1;
  L.cats.set(hot ? hotCats : coldCats, off * F);
  const n = L.sizes[index]! * F * L.dim;
  L.embGrad.fill(-1, off * F * L.dim, off * F * L.dim + n);
  ap.route(hot, L.sizes[index]!, emb, stats);
  barrier(L.ctrl, L.K);
  ap.apply(r, L.sizes[index]!, L.sizes, stats); // every slice as large as the batch: scale B_j/B = 1
  barrier(L.ctrl, L.K);
}
parentPort!.postMessage({ remote: stats[S.remoteRows], kernels: kernels.parallel.name });
