/**
 * `hotcold calibrate`: a short seeded measurement of this machine's unit costs
 * (pipeline/cost-model.ts `UnitCosts`), taken on real batches of the data a sweep trains on,
 * with the same model, engine and thread count, under whatever load the machine has now.
 *
 *     reading      the training stream's next()                → seconds per input drawn
 *     dense        Dlrm forward + backward on a batch          → seconds per dense FLOP
 *                  DenseOptimizer.step                         → seconds per parameter update
 *     cold rows    Device.coldBatch + gatherBatch              → seconds per row gathered
 *                  scatterUpdate on the host tables            → seconds per distinct row updated
 *     hot rows     the same on the device's hot table (fae data) → hot unit costs
 *     Slipstream   markStale over a hot batch                  → seconds per Δ lookup
 *                  a copy of the hot table                     → seconds per byte copied
 *
 * Every piece is timed in process CPU seconds (less disturbed by other processes than wall
 * time) `reps` times over `batches` batches; the median per unit is kept.
 */
import { mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import type { UnitCosts } from '../../pipeline/cost-model.js';
import { Rng } from '../../pipeline/rng.js';
import type { TrainConfig } from './config.js';
import { allocBatch, NUM_TABLES, type Batch } from './data/batch.js';
import { Device } from './device.js';
import { createEngine, type EngineKind } from './engine/engine.js';
import { Dlrm, parseArch } from './model/dlrm.js';
import { gatherBatch, scatterUpdate } from './model/embedding.js';
import { DenseOptimizer } from './model/optim.js';
import { markStale } from './modes/slipstream.js';
import { openInputs } from './setup.js';
import { layerFlops } from './work.js';

export const CALIBRATION_MAGIC = 'hotcold.calibration';

/** What `hotcold calibrate` writes. */
export interface Calibration {
  magic: typeof CALIBRATION_MAGIC;
  formatVersion: 1;
  costs: UnitCosts;
  engine: string;
  threads: number;
  cpuModel: string;
  batchSize: number;
  batches: number;
  reps: number;
  seed: number;
  /** process CPU seconds the calibration took */
  cpuSec: number;
  at: string;
}

export interface CalibrateOptions {
  config: TrainConfig;
  data: string;
  /** segregated dataset: hot-row costs measured on its hot table; else they equal the cold ones */
  hot?: string;
  engine?: EngineKind;
  threads?: number;
  /** batches of real data measured; @default 6 */
  batches?: number;
  /** repetitions over those batches; @default 5 */
  reps?: number;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : 0.5 * (s[m - 1]! + s[m]!);
}

/** Read the first `n` batches of a stream (epoch 0, the run's seeded order) into fresh buffers. */
async function readBatches(stream: { start(e: number, b?: number): void; next(b: Batch): Promise<boolean> }, n: number, B: number): Promise<Batch[]> {
  stream.start(0, 0);
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) {
    const b = allocBatch(B);
    if (!(await stream.next(b)) || b.size === 0) break;
    out.push(b);
  }
  return out;
}

/**
 * Per-unit seconds of `work` (units per call) timed `reps` × over the items, after two untimed
 * passes (so the JIT has compiled the kernels, as it has in a run); median of the per-call rates.
 */
function rate<T>(items: T[], reps: number, units: (x: T) => number, work: (x: T) => void): number {
  for (let r = 0; r < 2; r++) for (const x of items) work(x);
  const rates: number[] = [];
  for (let r = 0; r < reps; r++) {
    for (const x of items) {
      const t0 = cpuNow();
      work(x);
      const sec = cpuNow() - t0;
      const u = units(x);
      if (u > 0) rates.push(sec / u);
    }
  }
  return rates.length > 0 ? median(rates) : 0;
}

/** Measure the unit costs (see the module comment). */
export async function calibrate(o: CalibrateOptions): Promise<Calibration> {
  const c0 = cpuNow();
  const cfg = o.config;
  const B = cfg.train.batchSize;
  const nb = o.batches ?? 6;
  const reps = o.reps ?? 5;
  const engine = createEngine(o.engine ?? 'auto', o.threads ?? 1);
  const shape = parseArch(cfg.model.mlpBot, cfg.model.mlpTop, cfg.model.dim, NUM_TABLES);
  const rng = Rng.derive(cfg.seed, 21);
  const model = new Dlrm(shape, engine, rng);
  const opt = new DenseOptimizer(cfg.optim.dense.kind, model.params.length, { lr: cfg.optim.dense.lr, eps: cfg.optim.dense.eps });
  const d = cfg.model.dim;

  const base = await openInputs({ ...cfg, mode: 'baseline' }, o.data);
  const cold = await readBatches(base.main, nb, B);
  // reading: the stream's decode + shuffle + copy, per input drawn (shard loads included)
  const scratch = allocBatch(B);
  // (≥ 64 batches, so a shard's decode and shuffle are spread over the inputs it serves, as in a run)
  const readBatchesN = Math.max(cold.length, 64);
  const readRates: number[] = [];
  for (let r = 0; r < reps + 2; r++) {
    const t0 = cpuNow();
    base.main.start(0, 0);
    let n = 0;
    for (let i = 0; i < readBatchesN && (await base.main.next(scratch)); i++) n += scratch.size;
    if (r >= 2 && n > 0) readRates.push((cpuNow() - t0) / n); // two untimed passes first
  }
  const inputRead = readRates.length > 0 ? median(readRates) : 0;
  const dev = new Device(base.tableSizes, d, { ...cfg.optim.sparse }, null);
  dev.init(Rng.derive(cfg.seed, 12));
  const emb = new Float32Array(B * NUM_TABLES * d);
  const grad = new Float32Array(B * NUM_TABLES * d);
  for (let i = 0; i < grad.length; i++) grad[i] = (rng.float() - 0.5) * 1e-3;

  const perSample = layerFlops(shape).reduce((a, l) => a + l.forward + l.backward, 0);
  const flop = rate(cold, reps, (b) => b.size * perSample, (b) => {
    model.forward(b.size, b.dense, emb);
    model.backward(b.labels, grad);
  });
  model.grads.fill(1e-6);
  const paramUpdate = rate(cold, reps, () => model.params.length, () => opt.step(model.params, model.grads));
  const rowGathered = rate(cold, reps, (b) => b.size * NUM_TABLES, (b) => {
    dev.coldBatch(b.cats, b.size);
    gatherBatch(dev.tables, b.cats, b.size, emb);
  });
  const uniq = new Map<Batch, number>();
  for (const b of cold) {
    const before = dev.rows.coldUnique;
    dev.coldBatch(b.cats, b.size);
    uniq.set(b, dev.rows.coldUnique - before);
  }
  const rowUpdated = rate(cold, reps, (b) => uniq.get(b)!, (b) => scatterUpdate(dev.tables, b.cats, b.size, grad));

  let costs: UnitCosts = { inputRead, flop, paramUpdate, rowGathered, rowUpdated, hotRowGathered: rowGathered, hotRowUpdated: rowUpdated, filterLookup: 0, byteCopied: 0 };
  let copySrc: Float32Array = new Float32Array(1 << 22);
  if (o.hot) {
    const fae = await openInputs({ ...cfg, mode: 'fae' }, o.data, o.hot);
    const hot = await readBatches(fae.hot!, nb, B);
    const hdev = new Device(fae.tableSizes, d, { ...cfg.optim.sparse }, fae.hotMap);
    hdev.init(Rng.derive(cfg.seed, 12));
    const huniq = new Map<Batch, number>();
    for (const b of hot) {
      const before = hdev.rows.hotUnique;
      hdev.hotBatch(b.cats, b.size);
      huniq.set(b, hdev.rows.hotUnique - before);
    }
    if (hot.length > 0) {
      const hotRowGathered = rate(hot, reps, (b) => b.size * NUM_TABLES, (b) => {
        hdev.hotBatch(b.cats, b.size);
        gatherBatch(hdev.hotColumns, b.cats, b.size, emb);
      });
      const hotRowUpdated = rate(hot, reps, (b) => huniq.get(b)!, (b) => scatterUpdate(hdev.hotColumns, b.cats, b.size, grad));
      const H = hdev.hot!.rows;
      const delta = new Float32Array(H);
      for (let h = 0; h < H; h++) delta[h] = rng.float() * 1e-3;
      const keep = new Uint8Array(B);
      const filterLookup = rate(hot, reps, (b) => b.size * NUM_TABLES, (b) => markStale(keep, b.cats, b.size, delta, 5e-4, NUM_TABLES));
      costs = { ...costs, hotRowGathered, hotRowUpdated, filterLookup };
      copySrc = hdev.hot!.weights;
    }
  }
  const copies = Array.from({ length: 4 }, () => copySrc);
  let sink = 0;
  costs.byteCopied = rate(copies, reps, (a) => a.byteLength, (a) => { sink += a.slice()[0]!; });
  void sink;
  if (costs.filterLookup === 0) {
    // no hot data: Δ lookups over a random table of the calibration's batch shape
    const H = 1 << 16;
    const delta = Float32Array.from({ length: H }, () => rng.float());
    const keep = new Uint8Array(B);
    const fake = cold.map((b) => ({ cats: b.cats.map((x) => x & (H - 1)), size: b.size }));
    costs.filterLookup = rate(fake, reps, (b) => b.size * NUM_TABLES, (b) => markStale(keep, b.cats, b.size, delta, 0.5, NUM_TABLES));
  }
  return {
    magic: CALIBRATION_MAGIC, formatVersion: 1, costs, engine: engine.name, threads: o.threads ?? 1,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown', batchSize: B, batches: cold.length, reps, seed: cfg.seed,
    cpuSec: cpuNow() - c0, at: new Date().toISOString(),
  };
}

/** Calibrate and write the result to `path` (atomically). */
export async function calibrateToFile(o: CalibrateOptions, path: string): Promise<Calibration> {
  const c = await calibrate(o);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicSync(path, JSON.stringify(c, null, 2) + '\n');
  return c;
}
