/**
 * The GEMM ceiling of a DLRM forward pass on this machine, measured (used by `npm run bench:predict`):
 * the model's forward GEMMs — one `sgemm(x · Wᵀ)` per linear layer at M = the predict batch size —
 * run through the project's own engine (native/blas: OpenBLAS, one thread) in a loop, on one
 * worker thread alone and then on two worker threads at once (started together through a
 * shared-memory barrier). FLOPs per row = Σ 2·I·O over the linear layers (biases, ReLU and the
 * interaction are not counted: they are not GEMMs), so
 *
 *     ceiling rows/s = Σ over threads of (GEMM FLOP/s of that thread) / (FLOPs per row)
 *
 * is what a predict that did nothing but its GEMMs could reach. Each thread loops until the
 * main thread says stop (after `seconds`) and reports the median time of its complete loops
 * (the last one, which may have run alone, is dropped).
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createEngine } from '../stages/train/engine/engine.js';
import type { DlrmShape } from '../stages/train/model/dlrm.js';
import { median } from './args.js';

/** One linear layer's GEMM: x[M×I] · W[O×I]ᵀ. */
export interface GemmShape {
  name: string;
  I: number;
  O: number;
}

/** The forward GEMMs of a DLRM shape, bottom then top. */
export function forwardGemms(shape: DlrmShape): GemmShape[] {
  const out: GemmShape[] = [];
  for (let l = 0; l + 1 < shape.bot.length; l++) out.push({ name: `bot.${l}`, I: shape.bot[l]!, O: shape.bot[l + 1]! });
  for (let l = 0; l + 1 < shape.top.length; l++) out.push({ name: `top.${l}`, I: shape.top[l]!, O: shape.top[l + 1]! });
  return out;
}

/** GEMM FLOPs per row (2·I·O per layer). */
export function gemmFlopsPerRow(gemms: readonly GemmShape[]): number {
  return gemms.reduce((a, g) => a + 2 * g.I * g.O, 0);
}

interface ChildData {
  gemmCeilingChild: true;
  gemms: GemmShape[];
  M: number;
  /** Int32Array over a SharedArrayBuffer: [ready count, go, stop] */
  flags: SharedArrayBuffer;
}

interface ChildReply {
  /** seconds per complete loop of all the GEMMs */
  loops: number[];
  /** seconds per GEMM (median over loops), in `gemms` order */
  perGemm: number[];
  /** the process's CPU seconds over the complete loops (this thread's own when it runs alone) */
  cpuSec: number;
  detail: string;
}

/** One thread's part: allocate, say ready, wait for go, loop the GEMMs until stop. */
function childLoop(d: ChildData): ChildReply {
  const e = createEngine('auto', 1);
  const flags = new Int32Array(d.flags);
  const M = d.M;
  const bufs = d.gemms.map(({ I, O }) => ({ I, O, x: new Float32Array(M * I).fill(0.5), w: new Float32Array(O * I).fill(0.01), y: new Float32Array(M * O) }));
  for (const { I, O, x, w, y } of bufs) e.sgemm(false, true, M, O, I, 1, x, I, w, I, 0, y, O); // warm
  Atomics.add(flags, 0, 1);
  Atomics.notify(flags, 0);
  Atomics.wait(flags, 1, 0);
  const loops: number[] = [];
  const each: number[][] = bufs.map(() => []);
  const c0 = process.cpuUsage();
  const cpuAt: number[] = [];
  while (Atomics.load(flags, 2) === 0) {
    const t0 = performance.now();
    bufs.forEach(({ I, O, x, w, y }, i) => {
      const t = performance.now();
      e.sgemm(false, true, M, O, I, 1, x, I, w, I, 0, y, O);
      each[i]!.push((performance.now() - t) / 1000);
    });
    loops.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpuAt.push((c.user + c.system) / 1e6);
  }
  if (loops.length > 1) {
    loops.pop();
    cpuAt.pop();
    for (const a of each) a.pop();
  }
  return { loops, perGemm: each.map((a) => median(a)), cpuSec: cpuAt[cpuAt.length - 1] ?? NaN, detail: e.detail.split(',')[0]! };
}

if (!isMainThread && (workerData as Partial<ChildData> | null)?.gemmCeilingChild) {
  parentPort!.postMessage(childLoop(workerData as ChildData));
}

function startChild(data: ChildData): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL(self), { workerData: data });
  // under tsx: the worker registers tsx first (as stages/train/predict/pool.ts does)
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

/** What {@link measureGemmCeiling} found for one number of concurrent threads. */
export interface CeilingRun {
  threads: number;
  /** GEMM FLOP/s of each thread (median loop) */
  gflops: number[];
  /** Σ rows/s over the threads if predict did only its GEMMs */
  rowsPerSec: number;
  /** rows per CPU-second (one thread only: the process's CPU time is then that thread's; NaN for more) */
  rowsPerCpuSec: number;
  /** seconds per GEMM on thread 0 (median) */
  perGemm: number[];
  /** loops each thread completed */
  loops: number[];
  detail: string;
}

/** Run the GEMM loop on `threads` worker threads at once for about `seconds`. */
export async function measureGemmCeiling(gemms: GemmShape[], M: number, threads: number, seconds = 2): Promise<CeilingRun> {
  const flags = new SharedArrayBuffer(12);
  const f = new Int32Array(flags);
  const data: ChildData = { gemmCeilingChild: true, gemms, M, flags };
  const workers = Array.from({ length: threads }, () => startChild(data));
  const replies = workers.map((w) => new Promise<ChildReply>((res, rej) => {
    w.once('message', res);
    w.once('error', rej);
  }));
  try {
    while (Atomics.load(f, 0) < threads) await new Promise((r) => setTimeout(r, 10));
    Atomics.store(f, 1, 1);
    Atomics.notify(f, 1);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    Atomics.store(f, 2, 1);
    const got = await Promise.all(replies);
    const flop = gemmFlopsPerRow(gemms) * M;
    const gflops = got.map((g) => flop / median(g.loops) / 1e9);
    return {
      threads, gflops, rowsPerSec: got.reduce((a, g) => a + M / median(g.loops), 0),
      rowsPerCpuSec: threads === 1 ? (M * got[0]!.loops.length) / got[0]!.cpuSec : NaN,
      perGemm: got[0]!.perGemm, loops: got.map((g) => g.loops.length), detail: got[0]!.detail,
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
