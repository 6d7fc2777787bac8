/**
 * Samples/s of one DLRM training step (gather → forward → backward → dense update → sparse
 * scatter) on random data, for the Kaggle reference model and the small preset, per engine.
 *
 *     npx tsx bench/model-step.ts [--steps 8] [--batch 2048] [--engines blas,ts] [--models kaggle,small] [--rows 1000000]
 *
 * Bar (design.md §8): PyTorch 1.13 on one core, batch 2048: 17k samples/s (Kaggle model),
 * 33k (small). Issue target: ≥ 8k / 20k. Embedding tables use the Kaggle cardinalities capped
 * at --rows (uniform random ids), SGD everywhere as DLRM's reference run.
 */
import { createEngine, type Engine, type EngineKind } from '../stages/train/engine/engine.js';
import { tsKernels } from '../stages/train/engine/kernels.js';
import { Dlrm, parseArch } from '../stages/train/model/dlrm.js';
import { DenseOptimizer } from '../stages/train/model/optim.js';
import { EmbeddingTable, gatherBatch, scatterUpdate } from '../stages/train/model/embedding.js';
import { interactionBackward, interactionForward, interactionWidth } from '../stages/train/model/interaction.js';
import { KAGGLE_CARDINALITIES } from '../datasets/criteo/constants.js';
import { Rng } from '../pipeline/rng.js';
import os from 'node:os';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}

const STEPS = Number(arg('steps', '8'));
const B = Number(arg('batch', '2048'));
const ENGINES = arg('engines', 'blas,ts').split(',') as EngineKind[];
const MODELS = arg('models', 'kaggle,small').split(',');
const MAX_ROWS = Number(arg('rows', '1000000'));
const DIM = 16;
const F = KAGGLE_CARDINALITIES.length;

const ARCH: Record<string, { bot: string; top: string; bar: number; target: number }> = {
  kaggle: { bot: '13-512-256-64-16', top: '512-256-1', bar: 17_000, target: 8_000 },
  small: { bot: '13-64-16', top: '64-1', bar: 33_000, target: 20_000 },
};

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const rng = new Rng(42);
const tables = KAGGLE_CARDINALITIES.map((c) => {
  const t = new EmbeddingTable(Math.min(c, MAX_ROWS), DIM, { kind: 'sgd', lr: 0.01 });
  t.initUniform(rng);
  return t;
});
const dense = new Float32Array(B * 13);
const cats = new Int32Array(B * F);
const labels = new Float32Array(B);
const emb = new Float32Array(B * F * DIM);
const embGrad = new Float32Array(B * F * DIM);

function fillBatch(): void {
  for (let i = 0; i < dense.length; i++) dense[i] = Math.log1p(rng.float() * 100);
  for (let b = 0; b < B; b++) {
    for (let f = 0; f < F; f++) cats[b * F + f] = rng.int(tables[f]!.rows);
    labels[b] = rng.float() < 0.25 ? 1 : 0;
  }
}

interface Phases { gather: number; forward: number; backward: number; dense: number; scatter: number; total: number; cpu: number }

function benchModel(model: string, engine: Engine, steps: number): Phases {
  const a = ARCH[model]!;
  const m = new Dlrm(parseArch(a.bot, a.top, DIM), engine, new Rng(1));
  const opt = new DenseOptimizer('sgd', m.params.length, { lr: 0.01 });
  const t: Record<keyof Phases, number[]> = { gather: [], forward: [], backward: [], dense: [], scatter: [], total: [], cpu: [] };
  for (let s = 0; s <= steps; s++) {
    fillBatch();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    gatherBatch(tables, cats, B, emb);
    const t1 = performance.now();
    m.forward(B, dense, emb);
    const t2 = performance.now();
    m.backward(labels, embGrad);
    const t3 = performance.now();
    opt.step(m.params, m.grads);
    const t4 = performance.now();
    scatterUpdate(tables, cats, B, embGrad);
    const t5 = performance.now();
    const c = process.cpuUsage(c0);
    if (s === 0) continue; // warm-up step (allocation, JIT)
    t.gather.push(t1 - t0); t.forward.push(t2 - t1); t.backward.push(t3 - t2);
    t.dense.push(t4 - t3); t.scatter.push(t5 - t4); t.total.push(t5 - t0);
    t.cpu.push((c.user + c.system) / 1000);
  }
  return {
    gather: median(t.gather), forward: median(t.forward), backward: median(t.backward),
    dense: median(t.dense), scatter: median(t.scatter), total: median(t.total), cpu: median(t.cpu),
  };
}

function benchInteraction(steps: number): { fwd: number; bwd: number } {
  const W = interactionWidth(DIM, F);
  const bot = new Float32Array(B * DIM).map(() => rng.float() - 0.5);
  const out = new Float32Array(B * W), tc = new Float32Array(B * (F + 1) * DIM), dout = new Float32Array(B * W).map(() => rng.float() - 0.5);
  const dbot = new Float32Array(B * DIM), scratch = new Float32Array((F + 1) * DIM);
  const f: number[] = [], b: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const t0 = performance.now();
    interactionForward(out, tc, bot, emb, B, F, DIM);
    const t1 = performance.now();
    interactionBackward(dbot, embGrad, dout, tc, scratch, B, F, DIM);
    const t2 = performance.now();
    if (s > 0) { f.push(t1 - t0); b.push(t2 - t1); }
  }
  return { fwd: median(f), bwd: median(b) };
}

function loadWarning(): void {
  const load = os.loadavg()[0]!;
  const cores = os.cpus().length;
  if (load > cores) {
    console.log(`warning: load average ${load.toFixed(1)} on ${cores} cores — other jobs share the CPU; trust the per-CPU-second numbers over the wall ones`);
  }
}

/**
 * Bias gradients of one Kaggle-model step (the 7 layers' dbias += Σ_b dout), interleaved: the
 * GEMM with N = 1 the layers used before, the native column-sum kernel, its TypeScript twin.
 * @returns median ms per step (wall and CPU) of each
 */
function benchBiasGrad(reps: number): Record<string, { ms: number; cpu: number }> {
  const engine = createEngine('auto');
  const a = parseArch(ARCH.kaggle!.bot, ARCH.kaggle!.top, DIM);
  const widths = [...a.bot.slice(1), ...a.top.slice(1)];
  const ones = new Float32Array(B).fill(1);
  const bufs = widths.map((O) => ({ O, dy: new Float32Array(B * O).map(() => rng.float() - 0.5), db: new Float32Array(O) }));
  const ways: Record<string, () => void> = {
    'sgemm N=1': () => { for (const q of bufs) engine.sgemm(true, false, q.O, 1, B, 1, q.dy, q.O, ones, 1, 1, q.db, 1); },
    [`column sum (${engine.kernels.name})`]: () => { for (const q of bufs) engine.kernels.biasGrad(q.db, q.dy, B, q.O); },
    'column sum (ts)': () => { for (const q of bufs) tsKernels.biasGrad(q.db, q.dy, B, q.O); },
  };
  const t: Record<string, { ms: number[]; cpu: number[] }> = {};
  for (let r = 0; r <= reps; r++) {
    for (const [k, f] of Object.entries(ways)) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      f();
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      if (r === 0) continue;
      (t[k] ??= { ms: [], cpu: [] }).ms.push(ms);
      t[k].cpu.push((c.user + c.system) / 1000);
    }
  }
  return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { ms: median(v.ms), cpu: median(v.cpu) }]));
}

loadWarning();
console.log(`model-step bench: batch ${B}, dim ${DIM}, ${F} tables (rows ≤ ${MAX_ROWS}), median of ${STEPS} steps after 1 warm-up`);
const inter = benchInteraction(STEPS);
console.log(`interaction alone: forward ${inter.fwd.toFixed(1)} ms, backward ${inter.bwd.toFixed(1)} ms per batch`);
if (MODELS.includes('kaggle')) {
  const bg = benchBiasGrad(Math.max(STEPS, 15));
  const base = bg['sgemm N=1']!;
  console.log(`bias gradients of a Kaggle step (7 layers, batch ${B}), medians of interleaved repeats: ` +
    Object.entries(bg).map(([k, v]) => `${k} ${v.ms.toFixed(2)} ms wall / ${v.cpu.toFixed(2)} ms CPU (${(base.cpu / v.cpu).toFixed(1)}× vs sgemm)`).join('; '));
}
const results: Record<string, number> = {};
for (const model of MODELS) {
  for (const kind of ENGINES) {
    const engine = createEngine(kind);
    if (model === MODELS[0]) console.log(`engine ${engine.name}: ${engine.detail}`);
    // the pure-TS engine runs the Kaggle MLPs at ~1 GFLOP/s: fewer steps keep the bench short
    const steps = engine.name === 'ts' && model === 'kaggle' ? Math.min(STEPS, 3) : STEPS;
    const p = benchModel(model, engine, steps);
    const sps = (B / p.total) * 1000;
    const cpuSps = (B / p.cpu) * 1000;
    results[`${model}/${engine.name}`] = sps;
    const a = ARCH[model]!;
    console.log(
      `${model.padEnd(6)} ${engine.name.padEnd(4)} ${Math.round(sps).toString().padStart(7)} samples/s ` +
      `(${(sps / a.bar).toFixed(2)}× PyTorch-1-core bar ${a.bar / 1000}k, target ${a.target / 1000}k ${sps >= a.target ? 'met' : 'MISSED'}) ` +
      `ms/step: gather ${p.gather.toFixed(1)} fwd ${p.forward.toFixed(1)} bwd ${p.backward.toFixed(1)} ` +
      `dense-opt ${p.dense.toFixed(1)} scatter ${p.scatter.toFixed(1)} total ${p.total.toFixed(1)}; ` +
      `per CPU-second ${Math.round(cpuSps)} (wall suffers when other jobs share the 2 cores)`,
    );
  }
  const bl = results[`${model}/blas`], ts = results[`${model}/ts`];
  if (bl && ts) console.log(`${model.padEnd(6)} blas / ts = ${(bl / ts).toFixed(1)}×`);
}
loadWarning();
