/**
 * One runner of the hardware peer (bench/fp-peer.ts): a worker thread (workerData) or a child
 * process (job JSON in argv[2], protocol as JSON lines on stdin/stdout).
 *
 *     gemm    the DLRM MLP's GEMMs through the project's OpenBLAS addon (1 thread): per layer
 *             I→O at batch B, forward (B×O = B×I · (O×I)ᵀ), input gradient (B×I, not for the
 *             first layer) and weight gradient (O×I), as model/layers.ts calls them
 *     scalar  an integer hash loop (no FP, no memory traffic): what two threads get when nothing is shared
 *
 * warm-up → 'ready' → wait for 'go' → run for `seconds` → 'result' (rate: GFLOP/s, or M iterations/s).
 */
import { createInterface } from 'node:readline';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { loadBlasAddon, type BlasAddon } from '../stages/train/engine/addon.js';

/** What one runner measures. */
export interface PeerJob {
  kind: 'gemm' | 'scalar';
  /** gemm: MLP layers [input width, output width] and the batch */
  layers: [number, number][];
  batch: number;
}

/** Messages to the parent. */
export type PeerMessage = { type: 'ready' } | { type: 'result'; rate: number; sec: number } | { type: 'error'; message: string };

function gemmRunner(job: PeerJob): () => number {
  const { addon } = loadBlasAddon();
  if (!addon) throw new Error('the BLAS addon is not built (npm run build:addon)');
  const a: BlasAddon = addon;
  a.setThreads(1);
  const B = job.batch;
  const fill = (n: number): Float32Array => {
    const x = new Float32Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) { s = (Math.imul(s, 1103515245) + 12345) | 0; x[i] = ((s >>> 8) / 16777216 - 0.5) * 0.1; }
    return x;
  };
  const ls = job.layers.map(([I, O]) => ({ I, O, inp: fill(B * I), w: fill(O * I), out: new Float32Array(B * O), dout: fill(B * O), dinp: new Float32Array(B * I), dw: new Float32Array(O * I) }));
  let flops = 0;
  ls.forEach((l, i) => { flops += 2 * B * l.I * l.O * (i === 0 ? 2 : 3); });
  return () => {
    for (let i = 0; i < ls.length; i++) {
      const l = ls[i]!;
      a.sgemm(false, true, B, l.O, l.I, 1, l.inp, l.I, l.w, l.I, 0, l.out, l.O);
      if (i > 0) a.sgemm(false, false, B, l.I, l.O, 1, l.dout, l.O, l.w, l.I, 0, l.dinp, l.I);
      a.sgemm(true, false, l.O, l.I, B, 1, l.dout, l.O, l.inp, l.I, 0, l.dw, l.I);
    }
    return flops / 1e9;
  };
}

let sink = 0;
function scalarRunner(): () => number {
  const N = 1 << 22;
  return () => {
    let x = sink | 1;
    for (let i = 0; i < N; i++) x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + i) | 0;
    sink = x;
    return N / 1e6;
  };
}

/** Warm up, then run `unit()` until `seconds` have passed; @returns units per second. */
function measure(unit: () => number, seconds: number): { rate: number; sec: number } {
  const t0 = performance.now();
  let done = 0;
  let t = t0;
  while (t - t0 < seconds * 1000) {
    done += unit();
    t = performance.now();
  }
  const sec = (t - t0) / 1000;
  return { rate: done / sec, sec };
}

function prepare(job: PeerJob): () => number {
  const unit = job.kind === 'gemm' ? gemmRunner(job) : scalarRunner();
  measure(unit, 0.3); // warm-up: JIT, OpenBLAS buffers, page faults
  return unit;
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  try {
    const unit = prepare(workerData as PeerJob);
    port.on('message', (m: { type: 'go'; seconds: number }) => {
      const r = measure(unit, m.seconds);
      port.postMessage({ type: 'result', ...r } satisfies PeerMessage);
      port.close();
    });
    port.postMessage({ type: 'ready' } satisfies PeerMessage);
  } catch (e) {
    port.postMessage({ type: 'error', message: e instanceof Error ? e.message : String(e) } satisfies PeerMessage);
  }
} else if (isMainThread && process.argv[2]) {
  const say = (m: PeerMessage): void => void process.stdout.write(`${JSON.stringify(m)}\n`);
  try {
    const unit = prepare(JSON.parse(process.argv[2]) as PeerJob);
    const rl = createInterface({ input: process.stdin });
    rl.once('line', (line) => {
      const m = JSON.parse(line) as { type: 'go'; seconds: number };
      say({ type: 'result', ...measure(unit, m.seconds) });
      rl.close();
    });
    say({ type: 'ready' });
  } catch (e) {
    say({ type: 'error', message: e instanceof Error ? e.message : String(e) });
    process.exitCode = 1;
  }
}
