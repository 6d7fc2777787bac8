/**
 * The hardware peer of bench:workers: what two threads get on this machine when each runs the
 * same FP-bound (or integer-bound) work alone vs at the same time. It bounds what 2 workers can
 * reach: if two sgemm threads together get 1.24× one, two workers whose steps are GEMM-bound
 * cannot get 1.7× here, whatever the exchange costs.
 *
 *     alone  one runner (a worker thread, or a child process) runs the job for `seconds`
 *     pair   two runners warm up, then start on the same signal and run for `seconds`
 *     ratio  (a + b) / alone, medians over the repeats (alone and pair measured back to back)
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { PeerJob, PeerMessage } from './fp-peer-child.js';

const CHILD = new URL('./fp-peer-child.ts', import.meta.url);

/** A started runner: resolves `ready` after its warm-up; go() starts it and resolves with its rate. */
interface Runner {
  ready: Promise<void>;
  go(seconds: number): Promise<number>;
}

function threadRunner(job: PeerJob): Runner {
  const tsxApi = pathToFileURL(createRequire(import.meta.url).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(CHILD.href)}); });`;
  const w = new Worker(boot, { eval: true, workerData: job, env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  let onResult: (r: number) => void = () => {};
  let fail: (e: Error) => void = () => {};
  const result = new Promise<number>((resolve, reject) => { onResult = resolve; fail = reject; });
  const ready = new Promise<void>((resolve, reject) => {
    w.on('message', (m: PeerMessage) => {
      if (m.type === 'ready') resolve();
      else if (m.type === 'result') onResult(m.rate);
      else { reject(new Error(m.message)); fail(new Error(m.message)); }
    });
    w.once('error', (e) => { reject(e); fail(e); });
  });
  return {
    ready,
    go(seconds) {
      w.postMessage({ type: 'go', seconds });
      return result.finally(() => void w.terminate());
    },
  };
}

function processRunner(job: PeerJob): Runner {
  const p = spawn(process.execPath, ['--import', 'tsx', CHILD.pathname, JSON.stringify(job)], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  let onResult: (r: number) => void = () => {};
  let fail: (e: Error) => void = () => {};
  const result = new Promise<number>((resolve, reject) => { onResult = resolve; fail = reject; });
  const ready = new Promise<void>((resolve, reject) => {
    createInterface({ input: p.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as PeerMessage;
      if (m.type === 'ready') resolve();
      else if (m.type === 'result') onResult(m.rate);
      else { reject(new Error(m.message)); fail(new Error(m.message)); }
    });
    p.once('error', (e) => { reject(e); fail(e); });
    p.once('exit', (code) => { if (code !== 0) { const e = new Error(`fp peer child exited with ${code}`); reject(e); fail(e); } });
  });
  return {
    ready,
    go(seconds) {
      p.stdin!.end(`${JSON.stringify({ type: 'go', seconds })}\n`);
      return result;
    },
  };
}

/** Rates of `n` runners started together (after all warmed up). */
async function together(job: PeerJob, n: number, how: 'threads' | 'processes', seconds: number): Promise<number[]> {
  const rs = Array.from({ length: n }, () => (how === 'threads' ? threadRunner(job) : processRunner(job)));
  await Promise.all(rs.map((r) => r.ready));
  return Promise.all(rs.map((r) => r.go(seconds)));
}

/** One peer measurement: medians over `repeats` of the lone rate, of each of the pair's rates, and their ratio. */
export interface PeerResult {
  alone: number;
  /** the pair's two rates (medians of the first and of the second runner), and their sum's median */
  pair: [number, number];
  pairSum: number;
  /** median pair sum / median lone rate */
  ratio: number;
  /** per-repeat ratios (pair sum / the lone run just before it) */
  ratios: number[];
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Alone vs two at once, `repeats` times back to back. */
export async function measurePeer(job: PeerJob, how: 'threads' | 'processes', seconds: number, repeats: number): Promise<PeerResult> {
  const alone: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  const sums: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const [x] = await together(job, 1, how, seconds);
    const [p, q] = await together(job, 2, how, seconds);
    alone.push(x!);
    a.push(p!);
    b.push(q!);
    sums.push(p! + q!);
    ratios.push((p! + q!) / x!);
  }
  const m = median(alone);
  return { alone: m, pair: [median(a), median(b)], pairSum: median(sums), ratio: median(sums) / m, ratios };
}

/** The GEMM job of a DLRM shape at batch B: every MLP layer (bottom and top), forward and backward. */
export function gemmJob(bot: readonly number[], top: readonly number[], batch: number): PeerJob {
  const layers: [number, number][] = [];
  for (const w of [bot, top]) for (let i = 0; i + 1 < w.length; i++) layers.push([w[i]!, w[i + 1]!]);
  return { kind: 'gemm', layers, batch };
}
