/**
 * `npm run bench:peer`: hotcold's model step beside PyTorch's on the same model, shapes, batch
 * and thread count, interleaved in one invocation (the machine is shared: a hotcold repeat, then
 * a PyTorch repeat, …; medians of per-step times over all repeats, and their ratio).
 *
 *     npm run bench:peer -- [--models kaggle,small] [--threads 1,2] [--batch 2048] [--rows 100000]
 *                           [--reps 7] [--steps 3] [--kernels native,ts] [--e2e-rows 2000000 | 0]
 *                           [--e2e-batches 150 | 0 (all)] [--e2e-reps 2]
 *
 * Per model and thread count it prints ms/step and samples/s of
 *   hotcold   gather → forward → backward → dense SGD → sparse SGD, the engine's native kernels
 *   hotcold-ts the same with the TypeScript kernels (what native kernels buy)
 *   gemm-only the GEMMs of that step alone (the GEMM-bound limit on these shapes, this run)
 *   pytorch   bench/peer_torch.py: nn.Embedding(sparse) lookups, the two MLPs, bmm interaction,
 *             BCE-with-logits, SGD (Debian python3-torch at /usr/bin/python3, or $HOTCOLD_PYTHON)
 * then `hotcold train` end to end (compiled CLI, data included) on a generated set: the data worker
 * off and on at 1 thread and on with --threads auto, interleaved; its loop rate beside its own
 * step-only rate (the ratio the issue's ≥ 90 % target is about).
 * Without torch it says so, still prints hotcold's figures, and exits 0.
 * Tables: the Kaggle cardinalities capped at --rows (uniform random ids), dim 16, SGD lr 0.01.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { KAGGLE_CARDINALITIES } from '../datasets/criteo/constants.js';
import { Rng } from '../pipeline/rng.js';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { createEngine, type Engine, type KernelsKind } from '../stages/train/engine/engine.js';
import { Dlrm, parseArch } from '../stages/train/model/dlrm.js';
import { EmbeddingTable, gatherBatch, scatterUpdate } from '../stages/train/model/embedding.js';
import { DenseOptimizer } from '../stages/train/model/optim.js';
import { arg, median } from './args.js';
import { prepareBenchData } from './train-data.js';

const MODELS = arg('models', 'kaggle,small').split(',');
const THREADS = arg('threads', '1,2').split(',').map(Number);
const B = Number(arg('batch', '2048'));
const MAX_ROWS = Number(arg('rows', '100000'));
const REPS = Number(arg('reps', '7'));
const STEPS = Number(arg('steps', '3'));
const KERNELS = arg('kernels', 'native,ts').split(',') as KernelsKind[];
const E2E_ROWS = Number(arg('e2e-rows', '2000000'));
const E2E_BATCHES = Number(arg('e2e-batches', '150'));
const E2E_REPS = Number(arg('e2e-reps', '2'));
const PYTHON = process.env.HOTCOLD_PYTHON ?? '/usr/bin/python3';
const DIM = 16;
const F = KAGGLE_CARDINALITIES.length;
const ARCH: Record<string, { bot: string; top: string; config: string }> = {
  kaggle: { bot: '13-512-256-64-16', top: '512-256-1', config: 'configs/baseline.json' },
  small: { bot: '13-64-16', top: '64-1', config: 'configs/baseline-small.json' },
};
const log = (s: string): void => void process.stdout.write(`${s}\n`);

// ---- hotcold side ----------------------------------------------------------------------------

const rng = new Rng(42);
const tables = KAGGLE_CARDINALITIES.map((c) => {
  const t = new EmbeddingTable(Math.min(c, MAX_ROWS), DIM, { kind: 'sgd', lr: 0.01 });
  t.initUniform(rng);
  return t;
});
interface HostBatch { dense: Float32Array; cats: Int32Array; labels: Float32Array }
const batches: HostBatch[] = Array.from({ length: 4 }, () => {
  const dense = Float32Array.from({ length: B * 13 }, () => Math.log1p(rng.float() * 100));
  const cats = new Int32Array(B * F);
  for (let b = 0; b < B; b++) for (let f = 0; f < F; f++) cats[b * F + f] = rng.int(tables[f]!.rows);
  const labels = Float32Array.from({ length: B }, () => (rng.float() < 0.25 ? 1 : 0));
  return { dense, cats, labels };
});
const emb = new Float32Array(B * F * DIM);
const embGrad = new Float32Array(B * F * DIM);

/** One hotcold configuration, ready to step. */
interface Stepper { name: string; engine: Engine; run(n: number): Timing }

/** Per-step wall and process CPU milliseconds (CPU: all threads, so 2-thread runs count both cores). */
interface Timing { ms: number[]; cpu: number[] }

function hotcoldStepper(name: string, model: string, engine: Engine): Stepper {
  const a = ARCH[model]!;
  const m = new Dlrm(parseArch(a.bot, a.top, DIM), engine, new Rng(1));
  const opt = new DenseOptimizer('sgd', m.params.length, { lr: 0.01 });
  let i = 0;
  const step = (): void => {
    const hb = batches[i++ % batches.length]!;
    gatherBatch(tables, hb.cats, B, emb, engine.kernels);
    m.forward(B, hb.dense, emb);
    m.backward(hb.labels, embGrad);
    opt.step(m.params, m.grads);
    scatterUpdate(tables, hb.cats, B, embGrad, engine.kernels);
  };
  step(); // warm-up: activations, JIT
  return { name, engine, run: (n) => timed(n, step) };
}

/** The GEMMs of one step alone, same calls as model/layers.ts: the GEMM-bound limit on these shapes. */
function gemmStepper(model: string, engine: Engine): Stepper {
  const a = ARCH[model]!;
  const shape = parseArch(a.bot, a.top, DIM);
  const layers: { I: number; O: number; first: boolean }[] = [];
  for (let l = 0; l + 1 < shape.bot.length; l++) layers.push({ I: shape.bot[l]!, O: shape.bot[l + 1]!, first: l === 0 });
  for (let l = 0; l + 1 < shape.top.length; l++) layers.push({ I: shape.top[l]!, O: shape.top[l + 1]!, first: false });
  const bufs = layers.map(({ I, O }) => ({
    x: new Float32Array(B * I).fill(0.5), dx: new Float32Array(B * I), y: new Float32Array(B * O), dy: new Float32Array(B * O).fill(0.01),
    w: new Float32Array(O * I).fill(0.01), dw: new Float32Array(O * I),
  }));
  const step = (): void => {
    for (let l = 0; l < layers.length; l++) {
      const { I, O } = layers[l]!;
      const q = bufs[l]!;
      engine.sgemm(false, true, B, O, I, 1, q.x, I, q.w, I, 0, q.y, O);
    }
    for (let l = layers.length - 1; l >= 0; l--) {
      const { I, O, first } = layers[l]!;
      const q = bufs[l]!;
      if (!first) engine.sgemm(false, false, B, I, O, 1, q.dy, O, q.w, I, 0, q.dx, I);
      engine.sgemm(true, false, O, I, B, 1, q.dy, O, q.x, I, 1, q.dw, I);
      // bias gradients: a column-sum kernel in model/layers.ts since issue 10, not a GEMM
    }
  };
  step();
  return { name: 'gemm-only', engine, run: (n) => timed(n, step) };
}

function timed(n: number, step: () => void): Timing {
  const ms: number[] = [];
  const cpu: number[] = [];
  for (let s = 0; s < n; s++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    step();
    ms.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { ms, cpu };
}

// ---- PyTorch side ----------------------------------------------------------------------------

/** A warm bench/peer_torch.py process, or the reason there is none. */
class TorchPeer {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterableIterator<string>,
    readonly version: string,
  ) {}

  static async start(model: string, threads: number): Promise<TorchPeer | string> {
    const a = ARCH[model]!;
    const script = join(import.meta.dirname, 'peer_torch.py');
    const child = spawn(PYTHON, [script, '--bot', a.bot, '--top', a.top, '--dim', String(DIM), '--batch', String(B), '--threads', String(threads), '--rows', String(MAX_ROWS)], {
      env: { ...process.env, OMP_NUM_THREADS: String(threads), MKL_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => void (err += d.toString()));
    const failed = new Promise<string>((res) => child.on('error', (e) => res(`${PYTHON}: ${e.message}`)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await Promise.race([lines.next().then((r) => (r.done ? null : r.value)), failed]);
    if (first === null) return `peer exited: ${err.trim().split('\n').pop() ?? ''}`;
    if (!first.startsWith('{')) return first;
    const hello = JSON.parse(first) as { ready: boolean; torch?: string; error?: string };
    if (!hello.ready) return hello.error ?? 'peer not ready';
    return new TorchPeer(child, lines, hello.torch ?? '?');
  }

  async run(n: number): Promise<Timing> {
    this.child.stdin.write(`run ${n}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error('the PyTorch peer exited');
    return JSON.parse(r.value) as Timing;
  }

  close(): void {
    this.child.stdin.end('quit\n');
  }
}

/** Is torch importable at all? (one quick check, so a missing torch is said once) */
function torchStatus(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not runnable (${r.error.message})`;
  if (r.status !== 0) return `torch is not installed for ${PYTHON} (apt-get install python3-torch)`;
  return null;
}

// ---- main ------------------------------------------------------------------------------------

function cpuName(): string {
  const c = os.cpus()[0];
  return `${c?.model ?? '?'} × ${os.cpus().length}`;
}

const fmtMs = (x: number): string => x.toFixed(1).padStart(7);
const sps = (ms: number): string => Math.round((B / ms) * 1000).toString().padStart(7);

async function benchConfig(model: string, threads: number, torchMissing: string | null): Promise<Record<string, { ms: number; cpu: number }>> {
  const steppers: Stepper[] = [];
  for (const k of KERNELS) {
    const engine = createEngine('blas', threads, k);
    if (k === 'ts' || engine.kernels.name === k || KERNELS.length === 1) steppers.push(hotcoldStepper(k === 'native' ? 'hotcold' : 'hotcold-ts', model, engine));
  }
  steppers.push(gemmStepper(model, createEngine('blas', threads, 'ts')));
  const peer = torchMissing ? torchMissing : await TorchPeer.start(model, threads);
  const times: Record<string, Timing> = {};
  const add = (name: string, t: Timing): void => {
    const x = (times[name] ??= { ms: [], cpu: [] });
    x.ms.push(...t.ms);
    x.cpu.push(...t.cpu);
  };
  for (let r = 0; r < REPS; r++) {
    for (const s of steppers) {
      createEngine('blas', threads, 'ts'); // OpenBLAS threads are global: set them before each repeat
      add(s.name, s.run(STEPS));
    }
    if (typeof peer !== 'string') add('pytorch', await peer.run(STEPS));
  }
  if (typeof peer !== 'string') peer.close();
  const med: Record<string, { ms: number; cpu: number }> = {};
  for (const [k, v] of Object.entries(times)) med[k] = { ms: median(v.ms), cpu: median(v.cpu) };
  const main = med.hotcold ?? med['hotcold-ts']!;
  const ratio = (v: { ms: number; cpu: number }): string => `${(v.ms / main.ms).toFixed(2)}× wall, ${(v.cpu / main.cpu).toFixed(2)}× CPU`;
  log(`\n${model} model (bot ${ARCH[model]!.bot}, top ${ARCH[model]!.top}), batch ${B}, ${threads} thread${threads > 1 ? 's' : ''}: medians over ${REPS}×${STEPS} interleaved steps`);
  log(`  ${'what'.padEnd(11)} ${'wall ms'.padStart(7)} ${'samp/s'.padStart(7)} ${'CPU ms'.padStart(7)}  note`);
  for (const [k, v] of Object.entries(med)) {
    let note = '';
    if (k === 'hotcold') note = steppers.find((s) => s.name === k)!.engine.kernels.detail;
    if (k === 'hotcold-ts') note = `TypeScript kernels; native kernels are ${ratio(v)} faster`;
    if (k === 'gemm-only') note = `GEMM-bound limit: the hotcold step reaches ${((100 * v.ms) / main.ms).toFixed(0)} % of it (wall), ${((100 * v.cpu) / main.cpu).toFixed(0)} % (CPU)`;
    if (k === 'pytorch') note = `torch ${typeof peer === 'string' ? '' : peer.version}: hotcold vs pytorch ${ratio(v)} (target ≥ 1.3×)`;
    log(`  ${k.padEnd(11)} ${fmtMs(v.ms)} ${sps(v.ms)} ${fmtMs(v.cpu)}  ${note}`);
  }
  if (typeof peer === 'string') log(`  pytorch     skipped: ${peer}`);
  return med;
}

/** One `hotcold train` run of the end-to-end comparison, as its metrics.json reports it. */
interface E2eRun { stepRate: number; loopRate: number; runRate: number; waitShare: number; cpuPerSample: number; wall: number; engine: string; threads: number }

async function endToEnd(stepMs: number | undefined): Promise<void> {
  const bin = join(import.meta.dirname, '..', 'dist', 'bin', 'hotcold.js');
  if (!existsSync(bin)) {
    log('\nhotcold train end to end: skipped (dist/ not built: npm run build)');
    return;
  }
  const dir = join(os.tmpdir(), 'hotcold-bench-peer', `rows-${E2E_ROWS}`);
  const variants = [
    { name: 'worker off, 1 thread', args: ['--data-worker', 'off', '--threads', '1'] },
    { name: 'worker on,  1 thread', args: ['--data-worker', 'on', '--threads', '1'] },
    { name: 'worker on,  --threads auto', args: ['--data-worker', 'on', '--threads', 'auto'] },
  ];
  log(`\nhotcold train end to end: ${E2E_ROWS} generated rows in ${dir} (reused when present), Kaggle model, compiled CLI, ` +
    `${E2E_BATCHES > 0 ? `${E2E_BATCHES} batches` : 'all batches'} per run, ${E2E_REPS} interleaved repeat(s) of each variant`);
  const data = await prepareBenchData(dir, E2E_ROWS, 7, 64 << 20, (s) => log(`  ${s}`));
  const runs: E2eRun[][] = variants.map(() => []);
  for (let rep = 0; rep < E2E_REPS; rep++) {
    for (let v = 0; v < variants.length; v++) {
      const out = join(dir, `run-${process.pid}-${rep}-${v}`);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [bin, 'train', '--config', ARCH.kaggle!.config, '--data', data.dataDir, '--out', out, '--quiet', ...variants[v]!.args,
        '--set', 'train.evalEvery=0', '--set', 'train.evalRows=50000', '--set', `train.maxBatches=${E2E_BATCHES}`], { encoding: 'utf8' });
      const wall = (performance.now() - t0) / 1000;
      if (r.status !== 0) {
        log(`  train failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
        return;
      }
      const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
      rmSync(out, { recursive: true, force: true });
      const wait = m.dataLoad?.waitSec ?? 0;
      runs[v]!.push({
        stepRate: m.samplesTrained / Math.max(1e-9, m.time.trainSec - wait), loopRate: m.samplesTrained / m.time.trainSec,
        runRate: m.samplesTrained / (m.time.totalSec - m.time.evalSec), waitShare: m.dataLoad?.waitShare ?? NaN,
        cpuPerSample: (m.time.trainCpuSec ?? NaN) / m.samplesTrained, wall, engine: m.engine, threads: m.dataLoad?.threads ?? 1,
      });
    }
  }
  log(`  ${'variant'.padEnd(27)} ${'step-only'.padStart(9)} ${'loop'.padStart(7)} ${'loop/step'.padStart(9)} ${'run/step'.padStart(8)} ${'data wait'.padStart(9)} ${'CPU µs/sample'.padStart(13)}  engine`);
  for (let v = 0; v < variants.length; v++) {
    const rs = runs[v]!;
    const med = (f: (r: E2eRun) => number): number => median(rs.map(f));
    const step = med((r) => r.stepRate);
    log(`  ${variants[v]!.name.padEnd(27)} ${String(Math.round(step)).padStart(9)} ${String(Math.round(med((r) => r.loopRate))).padStart(7)} ` +
      `${`${(100 * med((r) => r.loopRate / r.stepRate)).toFixed(1)} %`.padStart(9)} ${`${(100 * med((r) => r.runRate / r.stepRate)).toFixed(1)} %`.padStart(8)} ` +
      `${`${(100 * med((r) => r.waitShare)).toFixed(1)} %`.padStart(9)} ${(1e6 * med((r) => r.cpuPerSample)).toFixed(1).padStart(13)}  ${rs[0]!.engine}`);
  }
  log('  step-only: samples / (step time − time waiting for batches); loop: samples / training-loop time, data included (target ≥ 90 % of step-only);');
  log('  run: samples / (whole run − evaluation), set-up and worker start included; CPU: all threads of the process (the data worker\'s too)');
  if (stepMs) log(`  (the synthetic-table step above: ${sps(stepMs).trim()} samples/s; generated tables differ in size, Adagrad instead of SGD)`);
}

async function main(): Promise<void> {
  const load = os.loadavg();
  log(`bench:peer — ${cpuName()}; load average ${load.map((x) => x.toFixed(2)).join(' ')} (the machine is shared: compare ratios within this run)`);
  log(`hotcold: ${createEngine('auto').detail}`);
  const torchMissing = torchStatus();
  if (torchMissing) log(`PyTorch peer: NOT RUN — ${torchMissing}; hotcold's figures only`);
  if (createEngine('auto').name !== 'blas') {
    log('the BLAS addon is not built (npm run build:addon): nothing to compare; exiting');
    return;
  }
  let kaggle1: number | undefined;
  for (const model of MODELS) {
    for (const t of THREADS) {
      const med = await benchConfig(model, t, torchMissing);
      if (model === 'kaggle' && t === 1) kaggle1 = med.hotcold?.ms;
    }
  }
  if (E2E_ROWS > 0) await endToEnd(kaggle1);
  log(`\nload average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

await main();
