/**
 * Incremental checkpoints on a planted-skew run: Kaggle cardinalities scaled down,
 * Zipf-distributed row touches with row-wise Adagrad-like updates, the Kaggle
 * reference MLPs as dense state.
 *
 *     npm run bench:checkpoint -- [--scale 32] [--dim 16] [--batch 2048] [--every 4,16,64]
 *                                 [--zipf 1.1] [--chain 8] [--reps 5] [--thresholds 1e-3,1e-2,3e-2]
 *                                 [--dense scaled|kaggle] [--trainer 0|1] [--train-thresholds 1e-3,1e-2,3e-2]
 *                                 [--policy-every 4,16] [--policy-n 16] [--budgets 0,0.1,0.06]
 *
 * Prints medians: bytes of an increment vs a full checkpoint (issue aim ≥ 10× fewer at
 * threshold 0), save throughput vs a plain sequential write + fsync of the same bytes
 * in the same run, recovery time of base + `--chain` increments vs one full checkpoint
 * (aim ≤ 1.2×), and for thresholds > 0 the bytes saved and the max |resumed − live| error.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAGGLE_CARDINALITIES } from '../datasets/criteo/constants.js';
import { Rng } from '../pipeline/rng.js';
import type { RunMetrics } from '../pipeline/run-metrics.js';
import { CheckpointStore, type TableState, type TrainState } from '../stages/train/checkpoint/index.js';
import { resolveTrainConfig } from '../stages/train/config.js';
import { train as trainRun } from '../stages/train/train.js';
import { makeTrainData } from '../test/fixtures/train-data.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : def;
}
const SCALE = Number(arg('scale', '32'));
const DIM = Number(arg('dim', '16'));
const B = Number(arg('batch', '2048'));
const EVERY = arg('every', '4,16,64').split(',').map(Number);
const ZIPF = Number(arg('zipf', '1.1'));
const CHAIN = Number(arg('chain', '8'));
const REPS = Number(arg('reps', '5'));
const THRESHOLDS = arg('thresholds', '1e-3,1e-2,3e-2').split(',').map(Number);
const TRAIN_THRESHOLDS = arg('train-thresholds', '1e-3,1e-2,3e-2').split(',').map(Number);
const TRAINER = arg('trainer', '1') !== '0';
const DENSE_MODE = arg('dense', 'scaled') as 'scaled' | 'kaggle';
const POLICY_EVERY = arg('policy-every', '4,16').split(',').filter(Boolean).map(Number);
const POLICY_N = Number(arg('policy-n', '16'));
const BUDGETS = arg('budgets', '0,0.1,0.06').split(',').map(Number);
const LR = 0.05;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mib = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
/** CPU seconds (user + system, all threads of this process) since `c0`. */
const cpuSince = (c0: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1e6;
};

/**
 * Kaggle reference dense params (bot 13-512-256-64-16, top 367-512-256-1) + Adagrad state;
 * with `--dense scaled` each array shrinks by --scale too, keeping Kaggle's dense : embedding ratio.
 */
function denseState(rng: Rng): Record<string, Float32Array> {
  const layers = [[13, 512], [512, 256], [256, 64], [64, DIM], [DIM + (27 * 26) / 2, 512], [512, 256], [256, 1]] as const;
  const out: Record<string, Float32Array> = {};
  layers.forEach(([i, o], k) => {
    const n = i * o + o;
    const w = new Float32Array(DENSE_MODE === 'scaled' ? Math.ceil(n / SCALE) : n);
    for (let j = 0; j < w.length; j++) w[j] = rng.float() - 0.5;
    out[`l${k}`] = w;
    out[`l${k}.acc`] = new Float32Array(w.length).fill(0.1);
  });
  return out;
}

interface Sim {
  state: TrainState;
  perms: Int32Array[];
  rng: Rng;
}

function makeSim(seed: number): Sim {
  const rng = new Rng(seed);
  const tables: TableState[] = KAGGLE_CARDINALITIES.map((c, i) => {
    const rows = Math.max(2, Math.ceil(c / SCALE));
    const weights = new Float32Array(rows * DIM);
    const bound = Math.sqrt(1 / rows);
    for (let j = 0; j < weights.length; j++) weights[j] = (rng.float() * 2 - 1) * bound;
    return { name: `C${i + 1}`, rows, dim: DIM, weights, accum: new Float32Array(rows), touched: new Uint8Array((rows + 7) >>> 3) };
  });
  // hot rows spread over the table, as after categorify by first appearance
  const perms = tables.map((t) => rng.shuffle(Int32Array.from({ length: t.rows }, (_, i) => i)));
  const state: TrainState = {
    dense: denseState(rng),
    tables,
    blobs: { order: Int32Array.from({ length: 22_000 }, (_, i) => i) },
    position: { epoch: 0, batch: 0 },
    config: { bench: 'checkpoint', scale: SCALE, dim: DIM, zipf: ZIPF },
  };
  return { state, perms, rng };
}

/** Zipf(s) rank in [0, n) by the continuous inverse CDF. */
function zipfRank(u: number, n: number, s: number): number {
  const a = 1 - s;
  const x = Math.abs(a) < 1e-9 ? Math.pow(n, u) : Math.pow((Math.pow(n + 1, a) - 1) * u + 1, 1 / a);
  return Math.min(n - 1, Math.max(0, Math.floor(x) - 1));
}

/** `batches` simulated training steps: B lookups per table, row-wise Adagrad update of each. */
function train(sim: Sim, batches: number): void {
  const { state, perms, rng } = sim;
  for (let b = 0; b < batches; b++) {
    for (let f = 0; f < state.tables.length; f++) {
      const t = state.tables[f]!;
      const perm = perms[f]!;
      const acc = t.accum!;
      for (let k = 0; k < B; k++) {
        const r = perm[zipfRank(rng.float(), t.rows, ZIPF)]!;
        const g = (rng.float() - 0.5) * 0.02;
        acc[r]! += g * g;
        const step = (LR * g) / Math.sqrt(acc[r]! + 1e-8);
        const o = r * DIM;
        for (let j = 0; j < DIM; j++) t.weights[o + j]! -= step * (j & 1 ? 1 : -0.5);
        t.touched[r >>> 3] = t.touched[r >>> 3]! | (1 << (r & 7));
      }
    }
    state.position = { epoch: 0, batch: Number(state.position.batch) + 1 };
  }
}

/**
 * The same increments and full saves as section 1, through beginSave()/settle(): the pause
 * is the snapshot; the simulated training of the next interval overlaps the write.
 */
async function background(every: number, syncIncr: number, syncFull: number): Promise<string> {
  const sim = makeSim(2);
  train(sim, 64);
  const dir = join(root, `bg-${every}`);
  const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 1000, keepChains: 1 });
  const incrPause: number[] = [];
  const incrWrite: number[] = [];
  const fullPause: number[] = [];
  const fullWrite: number[] = [];
  const alone: number[] = [];
  const during: number[] = [];
  try {
    store.beginSave(sim.state, { full: true });
    await store.settle();
    for (let k = 0; k < REPS; k++) {
      train(sim, every);
      incrPause.push(store.beginSave(sim.state).pauseSec);
      incrWrite.push((await store.settle())!.writeSec!);
    }
    for (let k = 0; k < REPS; k++) {
      let t0 = performance.now();
      train(sim, every);
      alone.push((performance.now() - t0) / 1000);
      fullPause.push(store.beginSave(sim.state, { full: true }).pauseSec);
      t0 = performance.now();
      train(sim, every); // overlaps the full write on the writer thread
      during.push((performance.now() - t0) / 1000);
      fullWrite.push((await store.settle())!.writeSec!);
    }
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const ms = (x: number): string => `${(x * 1e3).toFixed(x < 0.01 ? 1 : 0)} ms`;
  return (
    `| ${every} | ${ms(syncIncr)} → **${ms(median(incrPause))}** | ${ms(median(incrWrite))} | ${ms(syncFull)} → **${ms(median(fullPause))}** | ` +
    `${ms(median(fullWrite))} | ${ms(median(alone))} → ${ms(median(during))} |`
  );
}

/**
 * The recovery bound as a policy: POLICY_N checkpoints through the store's own full/increment rules with
 * `flatBudget` B (0 = no bound, fullEvery 16): bytes written (increments, bases and flat files) per checkpoint
 * against writing a full checkpoint every time, and the recovery of the last version against one full load.
 */
async function policy(): Promise<void> {
  console.log(`\n| every | flat budget | full bases of ${POLICY_N} | bytes written / checkpoint (with flats) | vs full every time | flat at the end / base | recovery last | full load | **ratio** |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const every of POLICY_EVERY) {
    for (const B of BUDGETS) {
      const sim = makeSim(5);
      train(sim, 64);
      const dir = join(root, `pol-${every}-${B}`);
      const st = CheckpointStore.open({ dir, threshold: 0, fullEvery: 16, keepChains: 1, flatBudget: B > 0 ? B : Infinity });
      let bytes = 0;
      let fulls = 0;
      let fullBytes = 0;
      let flatLast = 0;
      for (let k = 0; k < POLICY_N; k++) {
        if (k > 0) train(sim, every);
        const r = st.save(sim.state);
        bytes += r.bytes + (r.flat?.bytes ?? 0);
        if (r.kind === 'full') {
          fulls++;
          fullBytes = r.bytes;
          flatLast = 0;
        } else flatLast = r.flat?.bytes ?? r.bytes;
      }
      const fullDir = join(root, `pol-full-${every}-${B}`);
      CheckpointStore.open({ dir: fullDir, threshold: 0, fullEvery: 0, keepChains: 1 }).save(sim.state, { full: true });
      const into = emptyLike(sim.state);
      const a: number[] = [];
      const b: number[] = [];
      for (let k = 0; k < REPS; k++) {
        let c0 = process.cpuUsage();
        CheckpointStore.open({ dir, threshold: 0, fullEvery: 16 }).restore(into);
        a.push(cpuSince(c0));
        c0 = process.cpuUsage();
        CheckpointStore.open({ dir: fullDir, threshold: 0, fullEvery: 16 }).restore(into);
        b.push(cpuSince(c0));
      }
      const per = bytes / POLICY_N;
      console.log(
        `| ${every} | ${B > 0 ? B : '∞'} | ${fulls} | ${mib(per)} | ${(fullBytes / per).toFixed(1)}× fewer | ${((100 * flatLast) / fullBytes).toFixed(1)} % | ` +
          `${(median(a) * 1e3).toFixed(0)} ms CPU | ${(median(b) * 1e3).toFixed(0)} ms CPU | **${(median(a) / median(b)).toFixed(2)}×** |`,
      );
      rmSync(dir, { recursive: true, force: true });
      rmSync(fullDir, { recursive: true, force: true });
    }
  }
}

function plainWrite(path: string, bytes: number): number {
  const buf = Buffer.alloc(bytes, 7);
  const t0 = performance.now();
  const fd = openSync(path, 'w');
  let off = 0;
  while (off < bytes) off += writeSync(fd, buf, off, bytes - off);
  fsyncSync(fd);
  closeSync(fd);
  return (performance.now() - t0) / 1000;
}

function emptyLike(s: TrainState): TrainState {
  return {
    dense: Object.fromEntries(Object.entries(s.dense).map(([k, v]) => [k, new Float32Array(v.length)])),
    tables: s.tables.map((t) => ({ ...t, weights: new Float32Array(t.weights.length), accum: new Float32Array(t.rows), touched: new Uint8Array(t.touched.length) })),
    blobs: {},
    position: {},
    config: null,
  };
}

const root = mkdtempSync(join(tmpdir(), 'hotcold-bench-ckpt-'));
try {
  const probe = makeSim(1);
  const rowsTotal = probe.state.tables.reduce((s, t) => s + t.rows, 0);
  const denseFloats = Object.values(probe.state.dense).reduce((s, a) => s + a.length, 0);
  console.log(
    `checkpoint bench: Kaggle cardinalities / ${SCALE} = ${rowsTotal} rows × dim ${DIM} + row-wise Adagrad, ` +
      `dense ${denseFloats} floats (${DENSE_MODE}), batch ${B}, Zipf s=${ZIPF}, ${REPS} reps, chain of ${CHAIN} for recovery`,
  );

  // 1. per checkpoint interval: bytes and pause of an increment vs a full checkpoint,
  //    recovery of base + CHAIN increments vs one full checkpoint of the same state
  console.log(
    '\n| every (batches) | full | incr (median) | full/incr | tables only | rows/incr | pause full | pause incr | merge (flat) | flat size / base | flat bytes written / incr bytes | ' +
      'recovery chain | recovery flat | recovery full | chain/full | **flat/full** |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const tableFloats = probe.state.tables.reduce((s, t) => s + t.rows * (DIM + 1), 0);
  const recCpu: string[] = [];
  const bgRows: string[] = [];
  for (const every of EVERY) {
    const sim = makeSim(2);
    train(sim, 64); // warm up: hot rows touched, accumulators grown
    const chainDir = join(root, `chain-${every}`);
    const store = CheckpointStore.open({ dir: chainDir, threshold: 0, fullEvery: 1000, keepChains: 0 });
    const full = store.save(sim.state, { full: true });
    const incr: { bytes: number; rows: number; sec: number; flatSec: number }[] = [];
    let flatWritten = 0;
    let incrWritten = 0;
    let flatLast = 0;
    for (let k = 0; k < Math.max(REPS, CHAIN); k++) {
      train(sim, every);
      const r = store.save(sim.state);
      // save() merges the flat increment synchronously after the commit (the trainer's writer thread does it in the background)
      const flatSec = r.flat?.sec ?? 0;
      if (k < REPS) incr.push({ bytes: r.bytes, rows: r.rows, sec: r.pauseSec - flatSec, flatSec });
      incrWritten += r.bytes;
      flatWritten += r.flat?.bytes ?? 0;
      flatLast = r.flat?.bytes ?? r.bytes;
      if (k === CHAIN - 1) break;
    }
    const fullDir = join(root, `full-${every}`);
    const fullStore = CheckpointStore.open({ dir: fullDir, threshold: 0, fullEvery: 0, keepChains: 1 });
    // (the full directory holds one full version of the same state: what "one full load" reads)
    const fullPause: number[] = [full.pauseSec];
    for (let k = 1; k < REPS; k++) fullPause.push(fullStore.save(sim.state, { full: true }).pauseSec);
    fullStore.save(sim.state, { full: true });
    const into = emptyLike(sim.state);
    const tChain: number[] = [];
    const tFlat: number[] = [];
    const tFull: number[] = [];
    const cChain: number[] = [];
    const cFlat: number[] = [];
    const cFull: number[] = [];
    const timed = (dir: string, recovery: 'fastest' | 'chain', wall: number[], cpu: number[], want: string): void => {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const r = CheckpointStore.open({ dir, threshold: 0, fullEvery: 1000, recovery }).restore(into);
      wall.push((performance.now() - t0) / 1000);
      cpu.push(cpuSince(c0));
      if (r?.path !== want) throw new Error(`bench: restore of ${dir} took the ${r?.path} path, expected ${want}`);
    };
    // interleaved, so load from other jobs hits the three alike
    for (let k = 0; k < REPS; k++) {
      timed(chainDir, 'chain', tChain, cChain, 'chain');
      timed(chainDir, 'fastest', tFlat, cFlat, CHAIN > 1 ? 'flat' : 'chain');
      timed(fullDir, 'fastest', tFull, cFull, 'full');
    }
    const cpuMs = (xs: number[]): string => `${(median(xs) * 1e3).toFixed(0)} ms`;
    recCpu.push(
      `every ${every}: chain ${cpuMs(cChain)} CPU, flat ${cpuMs(cFlat)}, full ${cpuMs(cFull)} → chain/full ${(median(cChain) / median(cFull)).toFixed(2)}×, ` +
        `flat/full ${(median(cFlat) / median(cFull)).toFixed(2)}×`,
    );
    const ib = median(incr.map((x) => x.bytes));
    const rows = median(incr.map((x) => x.rows));
    const ms = (x: number): string => `${(x * 1e3).toFixed(0)} ms`;
    console.log(
      `| ${every} | ${mib(full.bytes)} | ${mib(ib)} | ${(full.bytes / ib).toFixed(1)}× | ${(tableFloats / (rows * (DIM + 2))).toFixed(1)}× | ${rows} | ` +
        `${ms(median(fullPause))} | ${ms(median(incr.map((x) => x.sec)))} | ${ms(median(incr.map((x) => x.flatSec)))} | ${((100 * flatLast) / full.bytes).toFixed(1)} % | ` +
        `${(flatWritten / incrWritten).toFixed(2)}× | ${ms(median(tChain))} | ${ms(median(tFlat))} | ${ms(median(tFull))} | ${(median(tChain) / median(tFull)).toFixed(2)}× | ` +
        `**${(median(tFlat) / median(tFull)).toFixed(2)}×** |`,
    );
    rmSync(chainDir, { recursive: true, force: true });
    rmSync(fullDir, { recursive: true, force: true });
    bgRows.push(await background(every, median(incr.map((x) => x.sec)), median(fullPause)));
  }
  console.log(`\nrecovery CPU time (medians; the full checkpoint = the compacted chain): ${recCpu.join('; ')}`);
  if (POLICY_EVERY.length > 0) await policy();
  console.log('\nbackground saves (beginSave: snapshot on the training path, write + fsyncs + commit on the writer thread), medians:');
  console.log('| every (batches) | pause incr: save() → beginSave() | write incr (background) | pause full: save() → beginSave() | write full (background) | train `every` batches: alone → during a full write |');
  console.log('|---|---|---|---|---|---|');
  for (const r of bgRows) console.log(r);

  // 2. write throughput: a full save vs a plain sequential write + fsync of the same bytes, interleaved
  {
    const sim = makeSim(3);
    const dir = join(root, 'tp');
    const st = CheckpointStore.open({ dir, threshold: 0, fullEvery: 0, keepChains: 1 });
    const save: number[] = [];
    const saveCpu: number[] = [];
    const plain: number[] = [];
    let bytes = 0;
    for (let k = 0; k < REPS; k++) {
      const c0 = process.cpuUsage();
      const r = st.save(sim.state, { full: true });
      saveCpu.push(cpuSince(c0));
      bytes = r.bytes;
      save.push(r.pauseSec);
      plain.push(plainWrite(join(root, 'plain.bin'), bytes));
      rmSync(join(root, 'plain.bin'));
    }
    const a = bytes / median(save) / 2 ** 20;
    const b = bytes / median(plain) / 2 ** 20;
    console.log(
      `\nfull save ${mib(bytes)}: ${a.toFixed(0)} MiB/s (crc32, headers, fsync, manifest) vs plain write + fsync of the same bytes ${b.toFixed(0)} MiB/s → ${(a / b).toFixed(2)}×; ` +
        `save ${(median(save) * 1e3).toFixed(0)} ms wall, ${(median(saveCpu) * 1e3).toFixed(0)} ms CPU`,
    );
    rmSync(dir, { recursive: true, force: true });
  }

  // 3. thresholds > 0: bytes saved and the error left in the resumed parameters
  const every = EVERY[Math.min(1, EVERY.length - 1)]!;
  let base0: number | undefined;
  console.log(`\n| threshold | incr bytes (median, every ${every}) | vs T=0 | max |resumed − live| | rows still touched |`);
  console.log('|---|---|---|---|---|');
  for (const T of [0, ...THRESHOLDS]) {
    const s = makeSim(4);
    train(s, 64);
    const dir = join(root, `thr-${T}`);
    const st = CheckpointStore.open({ dir, threshold: T, fullEvery: 1000, keepChains: 0 });
    st.save(s.state, { full: true });
    const bytes: number[] = [];
    for (let k = 0; k < REPS; k++) {
      train(s, every);
      bytes.push(st.save(s.state).bytes);
    }
    const back = emptyLike(s.state);
    CheckpointStore.open({ dir, threshold: T, fullEvery: 1000 }).restore(back);
    let err = 0;
    let pending = 0;
    for (let f = 0; f < back.tables.length; f++) {
      const a = s.state.tables[f]!.weights;
      const b = back.tables[f]!.weights;
      for (let j = 0; j < a.length; j++) err = Math.max(err, Math.abs(a[j]! - b[j]!));
      for (const x of s.state.tables[f]!.touched) for (let q = x; q !== 0; q &= q - 1) pending++;
    }
    if (T === 0) base0 = median(bytes);
    const b0 = base0 ?? median(bytes);
    console.log(`| ${T} | ${mib(median(bytes))} | ${(b0 / median(bytes)).toFixed(2)}× fewer | ${err.toExponential(2)} | ${pending} |`);
    rmSync(dir, { recursive: true, force: true });
  }

  // 4. the real trainer: threshold > 0 → bytes per increment and test AUC after a crash + resume
  if (TRAINER) await trainerThresholds(root);
} finally {
  rmSync(root, { recursive: true, force: true });
}

/**
 * Train a small planted run (test fixture data, 26 tables × 2,052 rows) uninterrupted, then for each
 * threshold: crash after 60% of the batches, --resume, and compare the test AUC with the uninterrupted run.
 */
async function trainerThresholds(dir: string): Promise<void> {
  const d = makeTrainData({ trainRows: 24_000, evalRows: 6000, coldRows: 2000, hotK: 50, hotProb: 0.8, seed: 3 });
  try {
    const config = resolveTrainConfig({
      mode: 'baseline',
      model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
      train: { batchSize: 256, epochs: 2, evalEvery: 0, logEvery: 50 },
    });
    const total = 2 * Math.ceil(24_000 / 256);
    const crashAt = Math.round(total * 0.6);
    const run = async (name: string, T: number, crash: boolean, resume: boolean): Promise<RunMetrics | null> => {
      const ck = { every: 4, everySec: 0, threshold: T, fullEvery: 16 };
      const hooks = { afterStep: (n: number) => { if (crash && n === crashAt) throw new Error('crash'); } };
      try {
        return await trainRun({ config, data: d.dataDir, out: join(dir, name), engine: 'auto', quiet: true, checkpoint: ck, resume, hooks });
      } catch (e) {
        if ((e as Error).message !== 'crash') throw e;
        return null;
      }
    };
    const ref = (await run('ref', 0, false, false))!;
    console.log(`\nreal trainer (baseline, 26 × 2052 rows, dim 8, ${total} batches, checkpoint every 4, crash after batch ${crashAt} then --resume):`);
    console.log(`uninterrupted test AUC ${ref.test.auc.toFixed(5)}, logloss ${ref.test.logloss.toFixed(5)}`);
    console.log('| threshold | incr bytes (median) | vs T=0 | test AUC after resume | Δ AUC vs uninterrupted | Δ logloss |');
    console.log('|---|---|---|---|---|---|');
    let b0 = 0;
    for (const T of [0, ...TRAIN_THRESHOLDS]) {
      const name = `T${T}`;
      await run(name, T, true, false);
      const m = (await run(name, T, false, true))!;
      const incr = readFileSync(join(dir, name, 'log.jsonl'), 'utf8').trim().split('\n')
        .map((l) => JSON.parse(l) as { msg?: string; type?: string; bytes?: number })
        .filter((l) => l.msg === 'checkpoint' && l.type === 'incr').map((l) => l.bytes!);
      const b = median(incr);
      if (T === 0) b0 = b;
      console.log(`| ${T} | ${(b / 1024).toFixed(1)} KiB | ${(b0 / b).toFixed(2)}× fewer | ${m.test.auc.toFixed(5)} | ${(m.test.auc - ref.test.auc).toExponential(2)} | ${(m.test.logloss - ref.test.logloss).toExponential(2)} |`);
    }
  } finally {
    d.cleanup();
  }
}
