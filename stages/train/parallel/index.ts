/**
 * Several workers on one run (HET-GMP-style data parallelism on one host): the interface
 * train.ts calls when `parallel.workers` > 1. See parallel/README.md for the semantics.
 *
 *     const par = await openParallel({...})   // the Trainer (shared tables), the pool, the partition
 *     await par.trainer.open()                // starts the workers
 *     loss = await par.step(hot, steps, where)   instead of trainer.step(hot, where)
 *     par.report()                            // metrics.json `parallel`
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { ParallelReport } from '../../../pipeline/run-metrics.js';
import type { TrainConfig } from '../config.js';
import { NUM_TABLES } from '../data/batch.js';
import type { Engine, EngineKind } from '../engine/engine.js';
import type { RowTags } from '../modes/rebatch.js';
import type { TrainInputs } from '../setup.js';
import { Trainer } from '../trainer.js';
import { ParallelColdStore } from './cold-store.js';
import { runPartition, type PartitionResult } from './partition.js';
import { poolTestHooks, replicaSlipstream, WorkerPool } from './pool.js';
import { poolOps, ReplicaSlipstream } from './slip.js';
import { S } from './shared.js';
import type { WorkerInit } from './worker.js';
import type { Device } from '../device.js';
import type { ColdStore } from '../store/types.js';
import { checkRemote } from './remote/check.js';
import { openRemote, type BatchAt } from './remote/coordinator.js';

export interface ParallelSetup {
  cfg: TrainConfig;
  engine: Engine;
  engineKind: EngineKind;
  threads: number;
  inputs: TrainInputs;
  /** the run directory (the graph partition is written to <out>/partition) */
  out: string;
  checkpointDir: string;
  /** `--cold-store`: only memory is implemented with workers */
  coldStore?: string;
  /** data fingerprint of the run (the partition's fingerprint includes it) */
  dataHash: string;
  fault?: WorkerInit['fault'];
  info?: (msg: string, extra?: Record<string, unknown>) => void;
  /** parallel.transport redis (remote/): the redis store's factory and the data paths recorded in the rendezvous */
  coldFactory?: (device: Device) => ColdStore;
  dataDir?: string;
  hotDir?: string;
}

/** A parallel run: its Trainer (the main thread's copy: evaluations, checkpoints) and the step. */
export interface ParallelRun {
  readonly trainer: Trainer;
  /**
   * One global step on trainer.batch over the workers.
   * @param steps optimizer steps trained before this one
   * @returns the merged batch's mean BCE
   * @throws PipelineError('numeric') (nothing applied), PipelineError('worker_failed')
   */
  step(hot: boolean, steps: number, where: () => string, at?: BatchAt): Promise<number>;
  report(): ParallelReport;
  /**
   * Per-replica Slipstream (mode slipstream, hotBound > 0; slip.ts): the run's Slipstream, whose
   * filter judges each worker's inputs by that worker's replica; null otherwise (then the
   * one-worker Slipstream runs on the main thread over the shared hot table, as at hotBound 0).
   * Call once.
   */
  slipstream(log: (msg: string, extra?: Record<string, unknown>) => void): ReplicaSlipstream | null;
  /** the worker of each row of the batch (per-replica Slipstream: the packer carries them), or null */
  readonly tags: RowTags | null;
}

/**
 * Before the BLAS addon loads: OpenBLAS sized to the BLAS threads each worker uses. Its default
 * pool (one thread per core) made concurrent sgemm calls from worker threads burn CPU (measured:
 * CPU per sample of 2 workers 1.81× one worker's with the default pool, 1.22× with
 * OPENBLAS_NUM_THREADS=1, small preset). Has no effect once the library is loaded in the process
 * (an earlier run in the same process), and never overrides a value the user set.
 */
export function sizeBlasPool(cfg: TrainConfig, threads: number): void {
  if (cfg.parallel.workers > 1 && process.env.OPENBLAS_NUM_THREADS === undefined) process.env.OPENBLAS_NUM_THREADS = String(threads);
}

/** Refuse what workers cannot do yet; @throws not_implemented */
export function checkParallel(cfg: TrainConfig, coldStore: string | undefined, updateLog = false): void {
  if (cfg.parallel.workers > 1 && updateLog && cfg.parallel.transport === 'redis') {
    throw new PipelineError('not_implemented', `--workers ${cfg.parallel.workers} with parallel.transport=redis and --log: the processes' cold rows are in the redis store already, and the log's entries would have to be cut at the ranks' global barriers`, {
      field: 'parallel.workers', hint: 'use incremental checkpoints (--checkpoint-every) with processes, or worker threads (the default transport) with --log',
    });
  }
  if (cfg.parallel.workers > 1 && cfg.mode === 'slipstream' && cfg.slipstream.maxAucLoss > 0) {
    throw new PipelineError('not_implemented', `--workers ${cfg.parallel.workers} with slipstream.maxAucLoss > 0: the accuracy-budgeted Slipstream's no-drop reference runs beside one trainer, not beside workers`, {
      field: 'parallel.workers', hint: 'use one worker for accuracy-budgeted Slipstream, or a fixed slipstream.targetDrop with workers',
    });
  }
  if (cfg.parallel.workers > 1 && cfg.parallel.transport === 'redis') {
    checkRemote(cfg, coldStore);
    return;
  }
  if (cfg.parallel.workers > 1 && coldStore !== undefined && coldStore !== 'memory') {
    throw new PipelineError('not_implemented', `--workers ${cfg.parallel.workers} with --cold-store ${coldStore}: worker threads share only the memory cold store (SharedArrayBuffers)`, {
      field: 'parallel.workers', hint: 'for K processes over a redis store add --set parallel.transport=redis (then start the others with `hotcold worker --join`), or use --cold-store memory with worker threads',
    });
  }
}

/** Build the Trainer over shared tables and the worker pool (started by trainer.open()). */
export async function openParallel(s: ParallelSetup): Promise<ParallelRun> {
  const { cfg } = s;
  checkParallel(cfg, s.coldStore);
  if (cfg.parallel.transport === 'redis') {
    if (!s.coldFactory || !s.coldStore || !s.dataDir) throw new PipelineError('internal', 'parallel.transport redis without the redis store factory or the data path');
    return openRemote({ cfg, engine: s.engine, inputs: s.inputs, out: s.out, dataDir: s.dataDir, hotDir: s.hotDir, coldStore: s.coldStore, dataHash: s.dataHash, coldFactory: s.coldFactory, info: s.info });
  }
  const K = cfg.parallel.workers;
  let pool: WorkerPool | null = null;
  let store: ParallelColdStore | null = null;
  const trainer = new Trainer(cfg, s.engine, s.inputs.tableSizes, s.inputs.hotMap, (device) => (store = new ParallelColdStore(device, () => pool!)), true);
  let part: PartitionResult | null = null;
  if (cfg.parallel.partition === 'graph') {
    part = await runPartition({ cfg, inputs: s.inputs, out: s.out, dataHash: s.dataHash });
    s.info?.(`train: graph partition over ${part.report.inputs} sampled inputs for ${K} workers: cut ${(100 * part.report.cut.graph).toFixed(1)}% vs random ${(100 * part.report.cut.random).toFixed(1)}% (${part.reused ? 'reused' : `${part.report.seconds.toFixed(1)}s`})`, { partition: part.report });
  }
  const owners = part ? part.owners : null;
  const dev = trainer.device;
  const d = cfg.model.dim;
  let prevCold = 0;
  let prevHot = 0;
  /** a step's updates are applied: the Device's counters, as the one-worker trainer counts them (distinct rows summed over the rows' owners) */
  const onStep = (hot: boolean, B: number): void => {
    const cold = store as unknown as ParallelColdStore;
    const st = pool!.stats();
    const cu = st[S.coldUnique]! - prevCold;
    const hu = st[S.hotUnique]! - prevHot;
    prevCold = st[S.coldUnique]!;
    prevHot = st[S.hotUnique]!;
    if (hot) {
      dev.rows.hotGathered += B * NUM_TABLES;
      dev.rows.hotUnique += hu;
      cold.countHot(B * NUM_TABLES);
    } else {
      // a cold batch's distinct rows include the hot rows it touches (as Device.coldBatch counts them)
      dev.rows.coldGathered += B * NUM_TABLES;
      dev.rows.coldUnique += cu + hu;
      dev.bytes.gatherIn += (cu + hu) * d * 4;
      dev.bytes.gradOut += (cu + hu) * d * 4;
      cold.lookups += B * NUM_TABLES;
    }
  };
  // the one-worker Slipstream reads the shared hot table on the main thread between steps: no step may be in flight then
  const pipeline = poolTestHooks.pipeline ?? !(cfg.mode === 'slipstream' && !replicaSlipstream(cfg));
  pool = new WorkerPool(trainer, {
    cfg, engine: s.engineKind, threads: s.threads, owners, splitter: { kind: cfg.parallel.partition, owners }, fault: s.fault, checkpointDir: s.checkpointDir,
    pipeline, onStep,
  });
  const p = pool;
  const cold = store as unknown as ParallelColdStore;
  const splitter = { kind: cfg.parallel.partition, owners };
  const slip = replicaSlipstream(cfg) && p.layout.H > 0 ? { made: null as ReplicaSlipstream | null } : null;
  return {
    trainer,
    get tags() {
      return slip?.made?.tags ?? null;
    },
    slipstream(log) {
      if (!slip) return null;
      slip.made = new ReplicaSlipstream(cfg.slipstream, cfg.train.batchSize, log, poolOps(p), splitter);
      return slip.made;
    },
    async step(hot, steps, where) {
      const rt = slip?.made?.tags ?? null;
      const tags = hot && rt?.valid ? rt.tags : null;
      if (rt) rt.valid = false;
      const loss = await p.step(trainer.batch, hot, steps, tags);
      if (!Number.isFinite(loss)) {
        throw new PipelineError('numeric', `training loss is ${loss} at ${where()}`, { hint: 'lower the learning rates (optim.dense.lr, optim.sparse.lr) or use adagrad' });
      }
      cold.step = steps + 1;
      return loss;
    },
    report() {
      if (p.busy) throw new PipelineError('internal', 'parallel report with a step in flight (drain the pool first)');
      const st = p.stats();
      const denseBytes = st[S.denseBytes]!;
      const sparseBytes = st[S.sparseBytes]!;
      const hotBytes = st[S.hotBytes]!;
      const lookups = st[S.hotLookups]!;
      return {
        workers: K, denseBound: cfg.parallel.denseBound, hotBound: cfg.parallel.hotBound, partition: cfg.parallel.partition, steps: p.steps,
        denseBytes, remoteRows: st[S.remoteRows]!, sparseBytes, hotBytes, bytesExchanged: denseBytes + sparseBytes + hotBytes,
        staleness: { mean: lookups > 0 ? st[S.staleSum]! / lookups : 0, max: st[S.staleMax]! },
        reconciles: st[S.reconciles]!, reconciledRows: st[S.reconciledRows]!, conflictRows: st[S.conflictRows]!,
        cut: part ? { graph: part.report.cut.graph, random: part.report.cut.random } : null,
        ...(slip?.made ? { slipstream: slip.made.report() } : {}),
      };
    },
  };
}
