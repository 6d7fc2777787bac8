/**
 * The train-run contract: what `hotcold train` leaves in its run directory and
 * what `hotcold sweep` / `hotcold report` read. Stages meet here, never directly.
 *
 *     <run>/metrics.json   RunMetrics (written atomically at the end of the run)
 *     <run>/log.jsonl      one JSON object per line: {kind:'step'|'eval'|'info', ...}
 *     <run>/config.json    the resolved train config
 */

/** Names of the files in a train run directory (written by stages/train, read by sweep and report). */
export const LOG_FILE = 'log.jsonl';
export const CONFIG_FILE = 'config.json';
export const METRICS_FILE = 'metrics.json';

export type TrainMode = 'baseline' | 'fae' | 'slipstream';

export interface EvalMetrics {
  auc: number;
  /** average precision (area under the precision–recall curve, as sklearn / DLRM's --mlperf-logging) */
  ap?: number;
  logloss: number;
  accuracy: number;
  /**
   * normalised entropy (He et al. 2014): logloss / entropy of the *training* CTR when the
   * evaluator knows it, else of the evaluated split's own CTR (see `neSplitCtr`)
   */
  ne: number;
  /** logloss / entropy of the evaluated split's own CTR */
  neSplitCtr?: number;
  /** positive rate of the evaluated rows */
  ctr?: number;
  /** the training CTR `ne` is normalised by (absent: `ne` = `neSplitCtr`) */
  trainCtr?: number;
  rows: number;
}

/** One evaluation during training: used for time-to-accuracy curves. */
export interface EvalPoint extends EvalMetrics {
  split: 'val' | 'test';
  epoch: number;
  /** batches trained so far (global) */
  batch: number;
  /** training samples processed so far (dropped samples not counted) */
  samples: number;
  /** seconds of training wall time so far, evaluation excluded */
  trainSec: number;
}

export interface RunMetrics {
  magic: 'hotcold.train.metrics';
  formatVersion: 1;
  mode: TrainMode;
  configHash: string;
  engine: string;
  seed: number;
  epochs: number;
  batchSize: number;
  val: EvalMetrics | null;
  test: EvalMetrics;
  evals: EvalPoint[];
  samplesTrained: number;
  samplesPerSec: number;
  time: {
    totalSec: number;
    trainSec: number;
    evalSec: number;
    slipstreamSec: number;
    checkpointSec: number;
    /**
     * process CPU seconds spent in training steps (Slipstream overhead included, evaluation
     * excluded): less sensitive than wall time to other work on a shared machine
     */
    trainCpuSec?: number;
    /**
     * accuracy-budgeted Slipstream: wall seconds of the no-drop reference (state copies, its
     * training steps) and the re-check evaluations; already inside trainSec and trainCpuSec
     */
    referenceSec?: number;
  };
  batches: { hot: number; cold: number; total: number };
  /** bytes that would cross the host↔device link */
  hostDeviceBytes: { gatherIn: number; gradOut: number; hotSync: number; total: number; perBatch: number };
  slipstream: null | {
    targetDrop: number;
    alpha: number;
    /** 'rebatch' (kept hot inputs packed into full batches) or 'shrink'; absent in older runs (= shrink) */
    dropMode?: 'rebatch' | 'shrink';
    /** per epoch: threshold found and drop achieved */
    epochs: { epoch: number; threshold: number; dropFraction: number; inBand: boolean; candidates: number; dropped: number }[];
    /** dropped / hot inputs over the whole run */
    dropFraction: number;
    threshold: number;
    overheadSec: number;
    /** accuracy-budgeted runs (slipstream.maxAucLoss > 0): the D trajectory; absent for a fixed D */
    budget?: BudgetReport;
  };
  stoppedEarly: boolean;
  /** one record per epoch trained: training figures and the evaluation at its end (when one ran) */
  epochRecords?: EpochRecord[];
  /**
   * redis cold store only (absent with the memory backend): store traffic of this process
   * (round trips, rows and bytes read/written, seconds waited) and the share of lookups served hot
   */
  coldStore?: ColdStoreReport;
  /** parallel runs only (parallel.workers > 1): workers, bounds, partition, traffic and staleness (stages/train/parallel/) */
  parallel?: ParallelReport;
  /** counted work (identical on every repeat of the same config and data); absent in older runs */
  work?: RunWork;
  /** per-step timing distribution; absent in older runs */
  steps?: StepTiming;
  /**
   * where batches were assembled (data worker thread or the training thread), the OpenBLAS
   * threads (`--threads auto` resolved), and the seconds the loop waited for data; absent in older runs
   */
  dataLoad?: { worker: boolean; threadsAsked: number | 'auto'; threads: number; cores: number; waitSec: number; waitShare: number };
}

/** What the workers of a parallel run exchanged (counted by this process; a resumed run counts from the resume). */
export interface ParallelReport {
  workers: number;
  denseBound: number;
  hotBound: number;
  partition: 'random' | 'graph';
  /** global steps trained in parallel */
  steps: number;
  /** dense gradients (bound 0) or parameters + optimizer state (averages) sent by the workers */
  denseBytes: number;
  /** sparse row gradients applied by an owner other than the worker that computed them, and their bytes (dim·4 + 8 each) */
  remoteRows: number;
  sparseBytes: number;
  /** hot-replica deltas pushed and rows pulled at reconciles (hotBound > 0) */
  hotBytes: number;
  /** dense + sparse + hot bytes */
  bytesExchanged: number;
  /** hotBound > 0: steps since the replica row was last reconciled, mean over hot lookups and max */
  staleness: { mean: number; max: number };
  reconciles: number;
  /** rows reconciled, and those changed by more than one worker since the previous reconcile */
  reconciledRows: number;
  conflictRows: number;
  /** graph partition: the cut of the graph and of a random assignment on the partitioner's sample */
  cut: { graph: number; random: number } | null;
  /** 'redis': K processes over the Redis tier (parallel/remote/), with their hosts by rank; absent: worker threads */
  transport?: 'redis';
  hosts?: string[];
  /** transport redis: barriers waited at, and the seconds waited at them (this process, rank 0) */
  barriers?: number;
  barrierSec?: number;
  /** per-replica Slipstream (mode slipstream, hotBound > 0): each worker's filter-phase hot inputs and those it skipped; absent otherwise */
  slipstream?: ReplicaSlipReport;
}

/** Per-replica Slipstream of a parallel run (stages/train/parallel/slip.ts). */
export interface ReplicaSlipReport {
  /** how the threshold search keys the sampled inputs: 'pooled' (under every replica's Δ, random split) or 'assigned' (under the Δ of the worker the graph split gives it) */
  keys: 'pooled' | 'assigned';
  targetDrop: number;
  /** per worker: hot inputs it received in filter phases, and those it skipped (stale in its replica) */
  perWorker: { candidates: number; dropped: number; dropFraction: number }[];
  /** achieved drop over the filter phases: Σ dropped / Σ candidates */
  dropFraction: number;
  /** share of hot rows whose Δ differed between the replicas at the last window's end (0: the replicas agreed, e.g. hotBound 1) */
  rowsDiffering: number;
}

/** What one epoch did. */
export interface EpochRecord {
  epoch: number;
  /** batches and samples trained in this epoch */
  batches: number;
  samples: number;
  /** mean training loss over the epoch's batches */
  trainLoss: number;
  /** training wall seconds of the epoch (evaluation excluded) */
  trainSec: number;
  val: EvalMetrics | null;
  test: EvalMetrics | null;
}

/**
 * What a run did, counted rather than timed: identical on every repeat of the same
 * config, data and engine, so ratios of these survive a busy machine.
 *
 * FLOPs (per sample, summed over the samples each step trains), for a linear layer I→O:
 * forward 2·I·O (GEMM) + O (bias); backward 2·I·O (input gradient, skipped for the first
 * bottom layer) + 2·I·O (weight gradient) + 2·O (bias gradient). Interaction over V = F+1
 * vectors of width d and P = V(V−1)/2 pairs: forward 2·d·P, backward 4·d·P. Element-wise
 * ReLU / sigmoid / BCE are not counted.
 */
export interface RunWork {
  samplesTrained: number;
  /** hot inputs Slipstream dropped */
  samplesDropped: number;
  /** optimizer steps (dense update + sparse update), hot and cold */
  optimizerSteps: { hot: number; cold: number; total: number };
  denseFlops: {
    forward: number;
    backward: number;
    total: number;
    /** per layer (bot.0 … top.N, and `interaction`): FLOPs per sample */
    perSample: { name: string; forward: number; backward: number }[];
  };
  /** dense parameters updated: optimizer steps × parameter count */
  denseParamUpdates: number;
  embedding: {
    /** row lookups gathered (duplicates included): samples × 26 */
    rowsGathered: number;
    /** distinct rows updated, summed over steps (duplicates within a step merged, as scatterUpdate does) */
    rowsUpdated: number;
    /** of rowsGathered / rowsUpdated: served by the device's hot table */
    hotGathered: number;
    hotUpdated: number;
  };
  /** bytes across the host↔device boundary (as hostDeviceBytes) */
  deviceBytes: number;
  slipstream: null | {
    /** hot-table bytes copied into snapshots, and read (twice) to compute Δ */
    snapshotBytes: number;
    deltaBytes: number;
    /** threshold search: sampled inputs × bisection steps (key comparisons) */
    searchEvals: number;
    /** sampled inputs × 26 lookups to build the drop keys */
    keyLookups: number;
    /** hot inputs classified × 26 (Δ lookups of the filter) */
    filterLookups: number;
    /** staleness re-checks run (accuracy-budgeted mode) */
    rechecks: number;
  };
  /** accuracy-budgeted Slipstream: the no-drop reference and the re-checks (absent otherwise) */
  reference?: ReferenceWork | null;
}

/** One re-check window of an accuracy-budgeted run (RunMetrics.slipstream.budget.windows). */
export interface BudgetWindow {
  epoch: number;
  /** window index within the epoch, and the hot batches it covered [hotFrom, hotTo] */
  window: number;
  hotFrom: number;
  hotTo: number;
  /** D and staleness threshold T used over the window */
  drop: number;
  threshold: number;
  /** dropped / hot inputs drawn in the window */
  achievedDrop: number;
  /** validation-slice AUC of the run and of its no-drop reference at the window's end */
  aucRun: number;
  aucRef: number;
  /** aucRun − aucRef (≤ 0: the run lost accuracy) */
  deltaAuc: number;
  decision: 'raise' | 'lower' | 'hold';
  /** D and T for the next window (T null when the epoch has no later window to search for) */
  next: number;
  nextThreshold: number | null;
}

/** The D trajectory of an accuracy-budgeted run. */
export interface BudgetReport {
  maxAucLoss: number;
  rechecks: number;
  /** rows of the validation slice each re-check scores (both models) */
  sliceRows: number;
  startDrop: number;
  finalDrop: number;
  windows: BudgetWindow[];
}

/**
 * Work of accuracy-budgeted Slipstream's no-drop reference and re-checks (modes/reference.ts):
 * priced by the cost model like the run's own work, so work and modelled speedups include it.
 */
export interface ReferenceWork {
  windows: number;
  samplesTrained: number;
  optimizerSteps: number;
  denseFlops: number;
  denseParamUpdates: number;
  rowsGathered: number;
  rowsUpdated: number;
  hotGathered: number;
  hotUpdated: number;
  deviceBytes: number;
  /** run state copied into the reference at window starts (and the hot-row syncs it needed) */
  copyBytes: number;
  /** validation rows scored by the re-checks (both models) and their forward FLOPs */
  recheckRows: number;
  recheckFlops: number;
}

/** Per-step timing: medians are robust to the odd step slowed by another process. */
export interface StepTiming {
  /** optimizer steps timed */
  count: number;
  /** median wall seconds per trained sample over the steps (1 % buckets) */
  medianWallPerSample: number;
  /** median process-CPU seconds per trained sample over the steps (1 % buckets) */
  medianCpuPerSample: number;
  /** what the CPU time covers */
  cpuClock: 'process';
}

/** Traffic and waiting of a cold store, for metrics.json (`coldStore`). */
export interface ColdStoreReport {
  kind: 'memory' | 'redis';
  /** the address as given (redis), or 'memory' */
  address: string;
  /** key prefix of the run's tables (redis) */
  prefix?: string;
  /** commands sent (reads, Function calls, bulk SET/GET); pipelined commands count one each */
  roundTrips: number;
  rowsRead: number;
  rowsWritten: number;
  bytesRead: number;
  bytesWritten: number;
  /** rows whose update found them changed by another writer (applied on the server from their current value) */
  conflicts: number;
  /** seconds the trainer waited on the store (prefetch not ready, write bound, barriers, eval reads) */
  waitSec: number;
  /** seconds of the bulk init (or the restore's bulk write) */
  initSec: number;
  /** embedding lookups of every trained batch, and those served by the device's hot table */
  lookups: number;
  lookupsHot: number;
  /** lookupsHot / lookups */
  hotShare: number;
  /** the parity store (`redis-parity://`): what degraded operation and rebuilds did */
  parity?: ParityStoreReport;
}

/** The parity store's fault counters, for metrics.json (`coldStore.parity`). */
export interface ParityStoreReport {
  /** data nodes, parity nodes */
  k: number;
  r: number;
  /** node losses seen (a node lost again during its rebuild counts again) */
  nodeLosses: number;
  /** rows read through a degraded read: reconstructed from parity and the stripe's other rows */
  rowsReconstructed: number;
  /** rows whose update went to parity only (their data node lost) */
  rowsParityOnly: number;
  /** background rebuilds started / finished (full redundancy again) */
  rebuildsStarted: number;
  rebuildsCompleted: number;
  /** blocks written onto replacements, and seconds spent rebuilding (all rebuilds) */
  rebuildBlocks: number;
  rebuildSec: number;
  /** per finished rebuild: seconds from the node's loss to full redundancy again */
  timeToRedundancySec: number[];
  /** nodes not fully redundant when the run ended (lost or still rebuilding), by name */
  notRedundant: string[];
}
