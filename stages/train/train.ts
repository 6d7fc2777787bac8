/**
 * The training loop of `hotcold train`: one flat loop over the epoch's schedule of cold and
 * hot batches, with evaluation, logging, checkpoints and Slipstream hooks around each step.
 *
 *     for epoch:
 *       schedule = cold/hot steps (modes/schedule.ts); slipstream.beginEpoch
 *       for step: slipstream hooks → train step (the Device syncs the dirty hot rows it reads)
 *                 → log / progress → eval every N batches (early stop) → checkpoint if due
 *     sync → final validation and test evaluation → metrics.json, manifest.json
 *
 * Everything random is derived from cfg.seed (model init, table init, per-epoch shuffles,
 * the Slipstream sample), so a run is reproducible and a checkpoint's position (epoch, step,
 * batches drawn per stream, counters, Slipstream state) is enough to continue exactly.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PipelineError, mismatch } from '../../pipeline/errors.js';
import { configHash } from '../../pipeline/hash.js';
import { ioError } from '../../pipeline/io-error.js';
import { ARTIFACTS, fileEntry, hasManifest, manifestHead, manifestPath, readManifest, writeManifest, type ManifestBase } from '../../pipeline/manifest.js';
import { Progress, quietSink, formatCount, type ProgressSink } from '../../pipeline/progress.js';
import { claimRunDirs, noticeSink, type RunClaims } from './run-dirs.js';
import type { EpochRecord, EvalMetrics, EvalPoint, RunMetrics } from '../../pipeline/run-metrics.js';
import { CheckpointStore, type SaveResult } from './checkpoint/index.js';
import type { TrainConfig } from './config.js';
import { NUM_TABLES } from './data/batch.js';
import { sampleRemaining } from './data/sample.js';
import type { LinkBytes, RowCounts } from './device.js';
import { createEngine, type EngineKind } from './engine/engine.js';
import { addStep, epochRecord, newEpochAcc, trimEval, type EpochAcc } from './epochs.js';
import { Evaluator } from './evaluate.js';
import { oneClassWarning } from './metrics.js';
import { epochSchedule, HOT } from './modes/schedule.js';
import { BudgetRun, checkBudgetConfig } from './modes/budget-run.js';
import { Packer } from './modes/rebatch.js';
import { Slipstream } from './modes/slipstream.js';
import { StatusWriter } from '../../pipeline/run-status.js';
import { CONFIG_FILE, LOG_FILE, METRICS_FILE, RunLog, writeJson } from './run-files.js';
import { saveModel } from './saved/model.js';
import { closeInputs, openInputs, type TrainInputs } from './setup.js';
import { dataLoadReport, resolveThreads } from './data/threads.js';
import { coldStoreFactory, type StoreReport } from './store/index.js';
import type { ConnectOptions } from './store/connect.js';
import type { LogDriver, UpdateLogFlags } from './updatelog/index.js';
import { Trainer } from './trainer.js';
import { checkParallel, openParallel, sizeBlasPool, type ParallelRun } from './parallel/index.js';
import { WorkMeter } from './work.js';

/** Checkpoint flags of `hotcold train`. */
export interface CheckpointFlags {
  /** save every N batches (0 = off) */
  every: number;
  /** save every S seconds of wall time (0 = off); changes when, never what, is trained */
  everySec: number;
  /** @default <out>/checkpoints */
  dir?: string;
  /** ‖Δ‖∞ threshold for incremental rows; 0 = exact */
  threshold: number;
  /** a new full base after K increments */
  fullEvery: number;
  /** a new full base once the flat increment exceeds this fraction of the base (checkpoint/flat.ts); @default Infinity */
  flatBudget?: number;
  /** continuous update log on Redis Streams (updatelog/): rows every `every` steps, markers at checkpoints */
  log?: UpdateLogFlags;
}

export interface TrainOptions {
  config: TrainConfig;
  /** preprocessed dataset directory */
  data: string;
  /** segregated dataset directory (fae / slipstream) */
  hot?: string;
  /** run directory */
  out: string;
  /** @default 'auto' */
  engine?: EngineKind;
  /** OpenBLAS threads for the dense layers (blas engine), or 'auto' (data/threads.ts); @default 1 */
  threads?: number | 'auto';
  /** assemble the training batches on a data worker thread (data/worker-stream.ts); @default false (the CLI's default is on) */
  dataWorker?: boolean;
  /** progress and evaluation lines (stderr by default) */
  sink?: ProgressSink;
  quiet?: boolean;
  checkpoint?: CheckpointFlags;
  /** continue from the newest checkpoint in the checkpoint dir */
  resume?: boolean;
  /** rerun even when a finished run with the same fingerprint is in --out */
  force?: boolean;
  /** replace an --out (or --checkpoint-dir) that holds files not written by hotcold train */
  forceClean?: boolean;
  /** where the cold embedding rows live: 'memory' (default) or a redis address (store/layout.ts) */
  coldStore?: string;
  /** redis backend: reconnect attempts and the write bound (tests shorten them) */
  storeOptions?: { connect?: ConnectOptions; maxInFlight?: number; fastPath?: boolean };
  /** for tests and tools: called after every step (throwing simulates a crash) and at the end */
  hooks?: { afterStep?: (batchesDone: number, trainer: Trainer) => void; onFinish?: (trainer: Trainer) => void };
  /** parallel runs (parallel.workers > 1), for tests: make worker `worker` throw or exit at global step `step` */
  workerFault?: { worker: number; step: number; how: 'throw' | 'exit' };
}

/** Where a run is and what it has counted: the JSON part of a checkpoint. */
interface Position {
  configHash: string;
  /** fingerprints of the preprocessed and segregated data the run trains on */
  dataHash: string;
  /** dense engine that wrote the checkpoint (another engine resumes, but not bit-identically) */
  engine: string;
  epoch: number;
  /** next step of the epoch's schedule, and batches drawn so far from each stream this epoch */
  step: number;
  coldIdx: number;
  hotIdx: number;
  batches: { hot: number; cold: number };
  samples: number;
  stepSec: number;
  /** process CPU seconds of the training steps */
  stepCpuSec: number;
  evalSec: number;
  checkpointSec: number;
  wallSec: number;
  lossSum: number;
  lossN: number;
  evals: EvalPoint[];
  bytes: LinkBytes;
  /** row lookups counted by the Device, the WorkMeter's state, re-batched rows pending */
  rows: RowCounts;
  work: unknown;
  pending: number;
  stoppedEarly: boolean;
  logBytes: number;
  slipstream: Record<string, unknown> | null;
  /** accuracy-budgeted Slipstream's state (modes/budget-run.ts); absent otherwise */
  budget?: Record<string, unknown> | null;
  /** finished epochs, and the sums of the current one (absent in checkpoints of older builds) */
  epochRecords?: EpochRecord[];
  epochAcc?: EpochAcc;
  /** parallel.workers of the run that wrote it (absent: 1) */
  workers?: number;
  /** seconds the loop waited for its batches (in-thread: assembling them); absent in older checkpoints */
  dataSec?: number;
}

/**
 * Train a DLRM per `o.config` and leave metrics.json, log.jsonl and config.json in `o.out`.
 * A finished run with the same config, data and engine is reused.
 */
export async function train(o: TrainOptions): Promise<RunMetrics> {
  const opened: Opened = { store: null, claims: null, log: null, cold: null, inputs: null };
  try {
    return await trainRun(o, opened);
  } catch (e) {
    // a failed run must not leave a checkpoint write racing a resume in the same process
    await opened.store?.close().catch(() => undefined); // a failed write was logged by settle()
    await opened.cold?.close().catch(() => undefined);
    opened.ulog?.abort();
    throw ioError(e, 'write run output', o.out);
  } finally {
    opened.log?.close(); // idempotent; a failed run must not keep its log open
    if (opened.inputs) await closeInputs(opened.inputs); // data workers stop with the run
    opened.claims?.out.release();
    opened.claims?.checkpoints.release();
  }
}

/** What a run holds open, released whatever happens. */
interface Opened {
  store: CheckpointStore | null;
  claims: RunClaims | null;
  log: RunLog | null;
  /** the cold store (redis: connections, writes in flight) */
  cold: Trainer['cold'] | null;
  /** the update log (--log) */
  ulog?: LogDriver | null;
  /** the batch streams (data workers) */
  inputs: TrainInputs | null;
}

async function trainRun(o: TrainOptions, opened: Opened): Promise<RunMetrics> {
  const wall0 = performance.now();
  const cfg = o.config;
  checkBudgetConfig(cfg, { coldStore: o.coldStore });
  const sink = o.quiet ? quietSink : o.sink;
  const threads = resolveThreads(o.threads, undefined, cfg.parallel.workers);
  sizeBlasPool(cfg, threads); // workers: OpenBLAS's pool sized before it loads
  const engine = createEngine(o.engine ?? 'auto', threads);
  // GEMM results are bit-identical for one engine and thread count, not across them
  const engineId = engine.name === 'blas' && threads > 1 ? `blas×${threads}` : engine.name;
  const inputs = await openInputs(cfg, o.data, o.hot, { dataWorker: o.dataWorker });
  opened.inputs = inputs;
  const cfgHash = configHash(cfg);
  const dataHash = configHash({ data: inputs.data.fingerprint, hot: inputs.seg?.fingerprint ?? null });
  const claims = claimRunDirs(o);
  opened.claims = claims;
  const out = claims.out.dir;
  checkParallel(cfg, o.coldStore, Boolean(o.checkpoint?.log));
  const coldFactory = await coldStoreFactory(o.coldStore, { cfg, sizes: inputs.tableSizes, dataHash, out, ...o.storeOptions });
  const fingerprint = configHash({ config: cfg, data: inputs.data.fingerprint, hot: inputs.seg?.fingerprint ?? null, engine: engineId, ...(coldFactory ? { cold: 'redis' } : {}) });
  // a finished run with the same fingerprint is reused; --resume keeps the directory (log, checkpoints)
  const prev = hasManifest(out) ? (JSON.parse(readFileSync(manifestPath(out), 'utf8')) as ManifestBase) : null;
  const reused = prev !== null && prev.magic === ARTIFACTS.train.magic && prev.fingerprint === fingerprint && !o.force;
  if (reused) return readRunMetrics(out);
  if (o.resume) rmSync(manifestPath(out), { force: true });
  else claims.out.clean();
  writeJson(out, CONFIG_FILE, cfg);

  const early: Record<string, unknown>[] = []; // lines said before log.jsonl is open (checkpoint recovery, the partition)
  // several workers: the Trainer is the main thread's copy (shared tables), the workers train (parallel/)
  const par: ParallelRun | null = cfg.parallel.workers > 1
    ? await openParallel({
      cfg, engine, engineKind: o.engine ?? 'auto', threads, inputs, out, checkpointDir: claims.checkpointDir, coldStore: o.coldStore, dataHash, fault: o.workerFault, info: (msg, extra) => early.push({ msg, ...extra }),
      coldFactory, dataDir: resolve(o.data), hotDir: o.hot ? resolve(o.hot) : undefined,
    })
    : null;
  const trainer = par ? par.trainer : new Trainer(cfg, engine, inputs.tableSizes, inputs.hotMap, coldFactory);
  opened.cold = trainer.cold;
  await trainer.open();
  const { device, batch } = trainer;
  const coldStream = trainer.cold.wrap(inputs.main); // redis: reads one batch ahead, prefetching its rows
  const progress = new Progress('train', 'batches', 0, sink);
  const trainSplit = inputs.data.splits.train;
  const evaluator = new Evaluator(cfg.train.evalBatchSize, cfg.model.dim, NUM_TABLES, Number.isFinite(trainSplit.positives) ? trainSplit.positives / trainSplit.rows : undefined);
  let pos: Position = {
    configHash: cfgHash, dataHash, engine: engineId, epoch: 0, step: 0, coldIdx: 0, hotIdx: 0, batches: { hot: 0, cold: 0 }, samples: 0,
    stepSec: 0, stepCpuSec: 0, evalSec: 0, checkpointSec: 0, wallSec: 0, lossSum: 0, lossN: 0, evals: [], bytes: { ...device.bytes },
    rows: { ...device.rows }, work: null, pending: 0, stoppedEarly: false, logBytes: 0, slipstream: null, epochRecords: [], epochAcc: newEpochAcc(), workers: cfg.parallel.workers,
  };
  let log: RunLog | null = null;
  const record = (rec: Record<string, unknown>): void => {
    if (log) log.write('info', rec);
    else early.push(rec);
  };
  const info = (msg: string, extra: Record<string, unknown> = {}): void => {
    record({ msg, ...extra });
    progress.log(msg);
  };
  // recovery and fall-back decisions: in log.jsonl and on stderr whatever the verbosity
  const notice = (msg: string): void => {
    record({ msg, notice: true });
    (o.quiet ? noticeSink(o.sink) : progress).log(msg);
  };
  // parallel runs at hotBound > 0 filter per worker replica (parallel/slip.ts); the packer then carries each row's worker
  const slip = cfg.mode === 'slipstream' ? (par?.slipstream(info) ?? new Slipstream(cfg.slipstream, cfg.train.batchSize, info)) : null;
  const packer = slip && cfg.slipstream.dropMode === 'rebatch' ? new Packer(cfg.train.batchSize, par?.tags ?? null) : null;
  const budget = slip && cfg.slipstream.maxAucLoss > 0 ? await BudgetRun.create(cfg, trainer, engine, inputs, info) : null;
  const meter = new WorkMeter(trainer.model.shape);
  const status = StatusWriter.fromEnv();

  // checkpoints: open the store, and on --resume continue from its newest version
  const ck = o.checkpoint;
  const store = ck && (ck.every > 0 || ck.everySec > 0 || o.resume)
    ? CheckpointStore.open({ dir: claims.checkpointDir, threshold: ck.threshold, fullEvery: ck.fullEvery, flatBudget: ck.flatBudget, flat: !ck.log, log: notice })
    : null;
  opened.store = store;
  const ulog = ck?.log ? await openLog(ck, trainer.state(cfg, {}, {}), out, notice) : null; // updatelog/driver.ts
  opened.ulog = ulog;
  if (ck && (ck.every > 0 || ck.everySec > 0)) store?.warmUp();
  let resumed = false;
  if (o.resume) {
    const r = ulog ? await ulog.resume(store!, trainer.state(cfg, {}, {}), store!.latest() !== null) : (store?.restore(trainer.state(cfg, {}, {})) ?? null);
    if (r) {
      if (!ulog && r.position.updateLog) throw mismatch(`the checkpoints in ${store!.dir} were written with an update log (--log): their increments hold no embedding rows`, 'resume with the same --log');
      pos = r.position as unknown as Position;
      if ((pos.workers ?? 1) !== cfg.parallel.workers) {
        throw mismatch(`the checkpoint in ${store!.dir} was written by a run with ${pos.workers ?? 1} worker(s); this run has --workers ${cfg.parallel.workers}, and a run resumes only with the worker count it was written with`, `resume with --workers ${pos.workers ?? 1} (--set parallel.workers=${pos.workers ?? 1})`);
      }
      if (pos.configHash !== cfgHash) throw mismatch(`the checkpoint in ${store!.dir} was written with another config (hash ${pos.configHash}, now ${cfgHash})`, 'resume with the same config and --set values');
      if (pos.dataHash !== dataHash) {
        throw mismatch(`the checkpoint in ${store!.dir} was written while training on other data (--data / --hot fingerprints differ)`, 'resume with the same --data and --hot directories, or start a new run without --resume');
      }
      if (pos.engine !== engineId) {
        notice(`train: warning: the checkpoint was written with the ${pos.engine} engine and resumes on ${engineId}; results will not be bit-identical to an uninterrupted run`);
        pos.engine = engineId;
      }
      Object.assign(device.bytes, pos.bytes);
      Object.assign(device.rows, pos.rows);
      meter.restore(pos.work);
      packer?.restore(pos.pending, r.blobs);
      if (slip && pos.slipstream) slip.restore(pos.slipstream, r.blobs);
      if (budget && pos.budget) budget.restore(pos.budget, r.blobs);
      await trainer.afterRestore();
      resumed = true;
    } else {
      notice(`train: --resume: no checkpoint in ${claims.checkpointDir}, starting from the beginning`);
    }
  }
  if (ulog && !resumed) await ulog.start();
  pos.epochRecords ??= [];
  pos.epochAcc ??= newEpochAcc();
  const epochAcc = (): EpochAcc => pos.epochAcc!;
  log = opened.log = new RunLog(out, resumed ? pos.logBytes : undefined);
  for (const rec of early.splice(0)) log.write('info', rec);
  info(resumed
    ? `train: resumed at epoch ${pos.epoch}, step ${pos.step} (${pos.batches.hot + pos.batches.cold} batches trained)`
    : `train: mode ${cfg.mode}, engine ${engine.detail}, ${formatCount(inputs.main.totalRows + (inputs.hot?.totalRows ?? 0))} training inputs`, { engine: engine.name });
  info(`train: ${engine.name === 'blas' ? `${threads} OpenBLAS thread(s)${o.threads === 'auto' ? ' (--threads auto)' : ''}` : 'TypeScript GEMMs'}, batches assembled ${o.dataWorker ? 'on a data worker thread' : 'in the training thread'}`, {
    threads, threadsAsked: o.threads ?? 1, dataWorker: o.dataWorker ?? false,
  });

  if (trainer.cold.kind !== 'memory') {
    const r = trainer.cold.report();
    info(`train: cold rows in redis at ${r.address} (key prefix '${r.prefix}'), ${resumed ? 'rebuilt from the checkpoint' : 'seeded'} in ${r.initSec.toFixed(1)}s; hot rows on the device`);
  }
  const nCold = inputs.main.batchesPerEpoch;
  const nHot = inputs.hot?.batchesPerEpoch ?? 0;
  const perEpoch = nCold + nHot;
  const totalBatches = cfg.train.maxBatches > 0 ? Math.min(cfg.train.maxBatches, perEpoch * cfg.train.epochs) : perEpoch * cfg.train.epochs;
  progress.setTotal(totalBatches);
  let stepsDone = pos.epoch * perEpoch + pos.step;
  let lastLoss = ''; // mean loss of the last log window, shown on the progress line
  let lastGood: EvalPoint | null = pos.evals[pos.evals.length - 1] ?? null;

  const warned = new Set<string>();
  const evaluate = async (split: 'val' | 'test', rows: number): Promise<EvalPoint> => {
    const t = performance.now();
    device.syncToHost();
    await trainer.cold.barrier();
    const stream = split === 'val' ? inputs.val! : inputs.test;
    const m: EvalMetrics = await evaluator.run(trainer.model, trainer.cold.evalSource(), stream, rows);
    pos.evalSec += (performance.now() - t) / 1000;
    const p: EvalPoint = { ...m, split, epoch: pos.epoch, batch: stepsDone, samples: pos.samples, trainSec: pos.stepSec };
    log!.write('eval', { ...p });
    progress.log(`eval ${split} @ batch ${stepsDone}: auc ${m.auc.toFixed(4)}, ap ${(m.ap ?? NaN).toFixed(4)}, logloss ${m.logloss.toFixed(4)}, accuracy ${m.accuracy.toFixed(4)}, ne ${m.ne.toFixed(4)} (${m.rows} rows)`);
    const warning = oneClassWarning(split, m);
    if (warning && !warned.has(split)) {
      warned.add(split);
      info(`train: ${warning}`);
    }
    return p;
  };

  let lastCk = performance.now();
  let ck0 = { batch: 0, waitSec: 0, pending: 0 }; // of the checkpoint being written in the background
  const written = (r: SaveResult | null): void => {
    if (r) log!.write('info', { msg: 'checkpoint', version: r.version, type: r.kind, bytes: r.bytes, rows: r.rows, pauseSec: r.pauseSec, waitSec: ck0.waitSec, writeSec: r.writeSec, batch: ck0.batch, pending: ck0.pending });
  };
  const saveCheckpoint = async (): Promise<void> => {
    const t = performance.now();
    const prevSave = await store!.settle(); // at most one write in flight; a failed one throws here
    written(prevSave);
    await ulog?.committed(prevSave);
    const waitSec = (performance.now() - t) / 1000;
    await trainer.cold.beforeCheckpoint(); // redis: barrier, then the cold rows into device.tables
    device.syncAll();
    pos.bytes = { ...device.bytes };
    pos.rows = { ...device.rows };
    pos.work = meter.save();
    pos.logBytes = log!.bytes;
    const s = slip?.save();
    pos.slipstream = s ? s.position : null;
    const pk = packer?.save();
    pos.pending = pk?.size ?? 0;
    const bs = budget?.save();
    pos.budget = bs ? bs.position : null;
    const position = { ...pos, wallSec: pos.wallSec + (t - wall0) / 1000 };
    // snapshot now; the write, fsyncs and commit run on the checkpoint writer thread
    const state = trainer.state(cfg, position as unknown as Record<string, unknown>, { ...(s ? s.blobs : {}), ...(pk?.blobs ?? {}), ...(bs?.blobs ?? {}) });
    if (ulog) await ulog.append(stepsDone, state); // the rows since the last entry, then the dense snapshot, then its marker
    const started = store!.beginSave(ulog ? ulog.forStore(state) : state);
    await ulog?.mark(stepsDone, started.version);
    ck0 = { batch: stepsDone, waitSec, pending: pos.pending };
    pos.checkpointSec += (performance.now() - t) / 1000;
    lastCk = performance.now();
  };

  const where = (): string => `batch ${stepsDone + 1} (epoch ${pos.epoch}, step ${pos.step}); last good evaluation: ${
    lastGood ? `${lastGood.split} AUC ${lastGood.auc.toFixed(4)} at batch ${lastGood.batch}` : 'none'}`;
  // the epoch whose shuffle orders the batches: DLRM's --data-randomize=total keeps the first one
  const orderEpoch = (epoch: number): number => (cfg.train.shuffleOnce ? 0 : epoch);
  const sample = (epoch: number, from: number, k: number): Promise<Int32Array> => sampleRemaining(inputs.hot!, orderEpoch(epoch), from, k, cfg.seed);
  /** one optimizer step on `batch`; @returns its loss */
  const trainStep = async (hot: boolean): Promise<number> => {
    const loss = par ? await par.step(hot, pos.batches.hot + pos.batches.cold, where, { epoch: orderEpoch(pos.epoch), idx: hot ? pos.hotIdx : pos.coldIdx }) : trainer.step(hot, where);
    meter.onStep(hot, batch.size);
    if (hot) pos.batches.hot++;
    else pos.batches.cold++;
    pos.samples += batch.size;
    return loss;
  };

  let done = stepsDone >= totalBatches || pos.stoppedEarly;
  for (; !done && pos.epoch < cfg.train.epochs; pos.epoch++) {
    const plan = epochSchedule(cfg, nCold, nHot);
    if (!resumed) {
      pos.step = 0;
      pos.coldIdx = 0;
      pos.hotIdx = 0;
      slip?.beginEpoch(pos.epoch, nHot);
      if (slip) budget?.beginEpoch(pos.epoch, nHot, slip);
    }
    resumed = false;
    coldStream.start(orderEpoch(pos.epoch), pos.coldIdx);
    inputs.hot?.start(orderEpoch(pos.epoch), pos.hotIdx);
    while (pos.step < plan.length && !done) {
      const hot = plan[pos.step] === HOT;
      const t = performance.now();
      const cpu0 = process.cpuUsage();
      const stream = hot ? inputs.hot! : coldStream;
      const more = await stream.next(batch);
      pos.dataSec = (pos.dataSec ?? 0) + (performance.now() - t) / 1000;
      if (!more) throw new PipelineError('internal', `stream ended early at epoch ${pos.epoch}, step ${pos.step}`);
      let loss = NaN;
      let losses = 0;
      const samples0 = pos.samples;
      if (hot) {
        if (slip) budget?.beforeHot(pos.epoch, pos.hotIdx, batch, slip, where); // the no-drop reference trains the batch as drawn
        await slip?.beforeHot(pos.hotIdx, device);
        slip?.filter(batch);
        if (packer) {
          // re-batch: kept rows wait for a full batch; the epoch's last hot batch flushes the rest
          packer.push(batch);
          while (packer.pop(batch, pos.hotIdx + 1 === nHot || budget?.endsWindow(pos.hotIdx) === true)) {
            const l = await trainStep(true);
            loss = losses === 0 ? l : loss + l;
            losses++;
          }
        } else if (batch.size > 0) {
          loss = await trainStep(true);
          losses = 1;
        }
        await slip?.afterHot(pos.epoch, pos.hotIdx, device, sample);
        if (slip) await budget?.afterHot(pos.epoch, pos.hotIdx, nHot, slip, sample);
        pos.hotIdx++;
      } else {
        await trainer.cold.ready();
        budget?.beforeCold(batch, where);
        loss = await trainStep(false);
        losses = 1;
        pos.coldIdx++;
      }
      pos.step++;
      stepsDone++;
      const wallSec = (performance.now() - t) / 1000;
      pos.stepSec += wallSec;
      addStep(epochAcc(), pos.samples - samples0, losses > 0 ? loss / losses : NaN, wallSec);
      const cpu = process.cpuUsage(cpu0);
      const cpuSec = (cpu.user + cpu.system) / 1e6;
      pos.stepCpuSec += cpuSec;
      meter.onSlot(pos.samples - samples0, wallSec, cpuSec);
      if (losses > 0) {
        pos.lossSum += loss / losses;
        pos.lossN++;
      }
      const sps = pos.samples / Math.max(pos.stepSec, 1e-9);
      if (stepsDone % cfg.train.logEvery === 0 || stepsDone === totalBatches) {
        const mean = pos.lossN > 0 ? pos.lossSum / pos.lossN : NaN;
        log.write('step', { epoch: pos.epoch, batch: stepsDone, samples: pos.samples, loss: mean, samplesPerSec: sps, trainSec: pos.stepSec });
        lastLoss = `, loss ${mean.toFixed(4)}`;
        pos.lossSum = 0;
        pos.lossN = 0;
      }
      progress.update(stepsDone, `${formatCount(sps)} samples/s${lastLoss}`); // redraws at most 5×/s
      status?.update(stepsDone, totalBatches, pos.samples, pos.stepSec);
      if (cfg.train.evalEvery > 0 && stepsDone % cfg.train.evalEvery === 0 && inputs.val) {
        const p = await evaluate('val', cfg.train.evalRows);
        pos.evals.push(p);
        lastGood = Number.isFinite(p.auc) ? p : lastGood;
        if (cfg.train.targetAuc > 0 && p.auc >= cfg.train.targetAuc) {
          pos.stoppedEarly = true;
          info(`train: validation AUC ${p.auc.toFixed(4)} reached the target ${cfg.train.targetAuc}; stopping early`);
        }
      }
      if (cfg.train.evalEvery > 0 && stepsDone % cfg.train.evalEvery === 0 && cfg.train.evalTest) pos.evals.push(await evaluate('test', cfg.train.evalRows));
      if (stepsDone >= totalBatches || pos.stoppedEarly) done = true;
      if (ulog?.due(stepsDone)) {
        const t0 = performance.now();
        device.syncToHost(); // the log's entry needs the current hot rows on the host (a copy, as before an evaluation)
        await trainer.cold.beforeCheckpoint();
        await ulog.append(stepsDone, trainer.state(cfg, {}, {}));
        pos.checkpointSec += (performance.now() - t0) / 1000; // fault-tolerance pauses, as the checkpoints'
      }
      if (store && ck && ((ck.every > 0 && stepsDone % ck.every === 0) || (ck.everySec > 0 && performance.now() - lastCk >= ck.everySec * 1000))) {
        if (pos.step === plan.length || done) slip?.endEpoch(); // as after the loop, so a resume at this point reports the epoch
        await saveCheckpoint();
      }
      o.hooks?.afterStep?.(stepsDone, trainer);
    }
    if (pos.step === plan.length || done) slip?.endEpoch();
    if (done) break;
    // an epoch ended and another follows: its record, with an evaluation when asked (DLRM tests at each epoch's end)
    let ev: { val: EvalPoint | null; test: EvalPoint | null } = { val: null, test: null };
    if (cfg.train.evalEpochEnd) {
      ev = { val: inputs.val ? await evaluate('val', cfg.train.evalRows) : null, test: cfg.train.evalTest ? await evaluate('test', cfg.train.evalRows) : null };
      for (const p of [ev.val, ev.test]) if (p) pos.evals.push(p);
    }
    pos.epochRecords!.push(epochRecord(pos.epoch, epochAcc(), ev.val, ev.test));
    pos.epochAcc = newEpochAcc();
  }

  // re-batched rows still pending when the run stopped early are trained before the final evaluation
  if (packer) while (packer.pop(batch, true)) await trainStep(true);
  status?.update(stepsDone, totalBatches, pos.samples, pos.stepSec, true);

  // final evaluation on the full validation and test splits
  device.syncToHost();
  const val = inputs.val ? await evaluate('val', 0) : null;
  const test = await evaluate('test', 0);
  if (val) pos.evals.push(val);
  pos.evals.push(test);
  if (epochAcc().batches > 0 || pos.epochRecords!.length === 0) pos.epochRecords!.push(epochRecord(Math.min(pos.epoch, cfg.train.epochs - 1), epochAcc(), val, test));
  o.hooks?.onFinish?.(trainer);
  if (cfg.train.saveModel) {
    // as before a checkpoint: the cold store's rows (redis) into the host tables, the hot rows in sync
    await trainer.cold.beforeCheckpoint();
    device.syncAll();
    saveModel(out, trainer, cfg, {
      kind: 'hotcold.model', dataFingerprint: inputs.data.fingerprint, dataDir: resolve(o.data), engine: engineId, samplesTrained: pos.samples, epochs: pos.epoch,
    });
  }
  const lastSave = (await store?.close()) ?? null; // the last checkpoint's write overlapped the final evaluation
  written(lastSave);
  if (ulog) {
    await ulog.committed(lastSave);
    await ulog.close();
    const u = ulog.stats;
    log.write('info', { msg: 'update log', entries: u.entries, markers: u.markers, rows: u.rows, bytes: u.bytes, pauseSec: u.pauseSec, trimmedBelow: u.trimmedBelow });
  }
  const metrics: RunMetrics = { ...buildMetrics(cfg, engineId, pos, device.bytes, slip, val, test, (performance.now() - wall0) / 1000), ...meter.build(device, slip) };
  if (trainer.cold.kind !== 'memory') metrics.coldStore = coldReport(trainer.cold.report());
  if (budget && metrics.slipstream && metrics.work) {
    metrics.slipstream.budget = budget.report();
    metrics.work.reference = budget.work();
    metrics.time.referenceSec = budget.sec;
  }
  if (par) {
    metrics.parallel = par.report();
    log.write('info', { msg: 'parallel', parallel: metrics.parallel });
  }
  metrics.dataLoad = dataLoadReport(o.dataWorker ?? false, o.threads ?? 1, threads, pos.dataSec ?? 0, pos.stepSec);
  await trainer.cold.close();
  progress.done(`train: ${formatCount(pos.samples)} samples in ${metrics.time.totalSec.toFixed(1)}s (${formatCount(metrics.samplesPerSec)} samples/s); test auc ${test.auc.toFixed(4)}`);
  log.write('info', { msg: 'work', work: metrics.work, steps: metrics.steps });
  log.write('info', { msg: 'done', testAuc: test.auc, samplesPerSec: metrics.samplesPerSec });
  log.close();
  writeJson(out, METRICS_FILE, metrics);
  const files = await Promise.all([METRICS_FILE, CONFIG_FILE, LOG_FILE].map((f) => fileEntry(out, f)));
  // elapsed time counts every attempt of a resumed run
  writeManifest(out, { ...manifestHead('train', fingerprint, performance.now(), files), elapsedSec: metrics.time.totalSec });
  return metrics;
}

function buildMetrics(
  cfg: TrainConfig, engine: string, pos: Position, bytes: LinkBytes, slip: Slipstream | null,
  val: EvalMetrics | null, test: EvalMetrics, wallSec: number,
): RunMetrics {
  const total = pos.batches.hot + pos.batches.cold;
  const slipSec = slip?.overheadSec ?? 0;
  const trainSec = Math.max(0, pos.stepSec - slipSec);
  const linkTotal = bytes.gatherIn + bytes.gradOut + bytes.hotSync;
  const strip = trimEval;
  return {
    magic: 'hotcold.train.metrics', formatVersion: 1, mode: cfg.mode, configHash: configHash(cfg), engine, seed: cfg.seed,
    epochs: cfg.train.epochs, batchSize: cfg.train.batchSize, val: val ? strip(val) : null, test: strip(test), evals: pos.evals,
    samplesTrained: pos.samples, samplesPerSec: pos.samples / Math.max(pos.stepSec, 1e-9),
    time: { totalSec: pos.wallSec + wallSec, trainSec, evalSec: pos.evalSec, slipstreamSec: slipSec, checkpointSec: pos.checkpointSec, trainCpuSec: pos.stepCpuSec },
    batches: { hot: pos.batches.hot, cold: pos.batches.cold, total },
    hostDeviceBytes: { ...bytes, total: linkTotal, perBatch: total > 0 ? linkTotal / total : 0 },
    slipstream: slip
      ? {
          targetDrop: cfg.slipstream.targetDrop, alpha: cfg.slipstream.alpha, dropMode: cfg.slipstream.dropMode, epochs: slip.epochs,
          dropFraction: slip.hotSeen > 0 ? slip.dropped / slip.hotSeen : 0,
          threshold: slip.epochs.length > 0 ? slip.epochs[slip.epochs.length - 1]!.threshold : 0, overheadSec: slipSec,
        }
      : null,
    stoppedEarly: pos.stoppedEarly,
    epochRecords: pos.epochRecords ?? [],
  };
}

/** Read a finished run's metrics (for callers that reuse a run directory). */
export function readRunMetrics(dir: string): RunMetrics {
  readManifest(dir, 'train');
  const p = join(dir, METRICS_FILE);
  if (!existsSync(p)) throw new PipelineError('bad_manifest', `run ${dir} has no ${METRICS_FILE}`, { file: dir });
  return JSON.parse(readFileSync(p, 'utf8')) as RunMetrics;
}

/** The cold store's counters as metrics.json reports them (this process's share of a resumed run). */
function coldReport(r: StoreReport): NonNullable<RunMetrics['coldStore']> {
  return { ...r };
}

/** The update log of `--log` (ioredis loads only then). */
async function openLog(ck: CheckpointFlags, state: ReturnType<Trainer['state']>, out: string, note: (m: string) => void): Promise<LogDriver> {
  if (!(ck.every > 0 || ck.everySec > 0)) throw new PipelineError('bad_config', '--log needs --checkpoint-every (the dense state is saved at checkpoints; the log holds the rows)', { field: '--log' });
  if (ck.threshold > 0) throw new PipelineError('bad_config', '--log replays exactly: --checkpoint-threshold must be 0', { field: '--checkpoint-threshold' });
  const [{ LogDriver: Driver }, { defaultPrefix }] = await Promise.all([import('./updatelog/index.js'), import('./store/index.js')]);
  return Driver.open(ck.log!, { prefix: defaultPrefix(out), state, note });
}
