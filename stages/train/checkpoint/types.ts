/** Types of the checkpoint contract (see .agents/TRAIN.md, "Checkpoint API"). */

/** One embedding table as the trainer holds it. */
export interface TableState {
  name: string;
  rows: number;
  dim: number;
  /** rows×dim, row-major */
  weights: Float32Array;
  /** rows (row-wise Adagrad accumulator) or null (SGD) */
  accum: Float32Array | null;
  /** bitset, ceil(rows/8) bytes: bit r (byte r>>3, mask 1<<(r&7)) set when row r was updated */
  touched: Uint8Array;
}

export type Blob = Float32Array | Int32Array | Uint8Array | Float64Array;

/** Everything a checkpoint holds. */
export interface TrainState {
  /** dense params + dense optimizer state, by name (always stored in full) */
  dense: Record<string, Float32Array>;
  /** embedding tables: stored incrementally (touched rows whose ‖Δ‖∞ > threshold) */
  tables: TableState[];
  /** other arrays (Slipstream snapshots, stale masks, batch order), stored in full */
  blobs: Record<string, Blob>;
  /** JSON: epoch, batch in epoch, rng states, counters, slipstream T... */
  position: Record<string, unknown>;
  /** resolved train config */
  config: unknown;
}

/** A step of the commit protocol, for the crash-injection test hook. */
export type CommitStep = 'data' | 'fsync' | 'manifest-tmp' | 'rename';

export interface CheckpointOptions {
  /** checkpoint directory (created when missing) */
  dir: string;
  /** ‖Δ‖∞ threshold for storing a touched row in an increment; 0 = every touched row (exact). @default 0 */
  threshold: number;
  /** a new full base after this many increments (0 = every checkpoint is full) */
  fullEvery: number;
  /** one-line messages (fallbacks, cleanup, pruning) */
  log?: (msg: string) => void;
  /**
   * Chains kept on disk: after a full base is committed, versions older than the
   * `keepChains`-th newest base are deleted. 0 = keep everything. @default 2
   */
  keepChains?: number;
  /** Test hook: throw right after this commit step, leaving files as a crash would. */
  failAfter?: CommitStep;
  /**
   * After each increment (from the second of a chain on), fold the chain's increments into a
   * flat increment (flat.ts) so recovery reads base + one file; on the writer thread for
   * background saves. @default true
   */
  flat?: boolean;
  /**
   * Recovery bound: a new full base is written once the newest flat increment holds more than
   * this fraction of the base's bytes (recovery reads base + flat). Infinity = only the other rules.
   * @default Infinity (the train CLI's `--flat-budget` defaults to DEFAULT_FLAT_BUDGET, defaults.ts)
   */
  flatBudget?: number;
  /** 'fastest' (default): restore through the newest valid flat increment; 'chain': base + every increment. */
  recovery?: 'fastest' | 'chain';
  /** Test hook: throw right after this step of a flat increment's commit (a crash in the middle of a merge). */
  failFlatAfter?: CommitStep;
}

export interface SaveResult {
  version: number;
  kind: 'full' | 'incr';
  /** bytes written: data files + manifest */
  bytes: number;
  /** embedding rows stored, all tables */
  rows: number;
  /** wall time of save(), or of beginSave()'s snapshot: how long training was paused */
  pauseSec: number;
  /** background saves: seconds from the start of the snapshot to the commit (and pruning) */
  writeSec?: number;
  /** synchronous saves of an increment: the flat increment written after the commit (its time is in pauseSec) */
  flat?: { bytes: number; rows: number; sec: number } | null;
}

/** What {@link CheckpointStore.beginSave} knows when it returns (the write goes on in the background). */
export interface SaveStarted {
  version: number;
  kind: 'full' | 'incr';
  /** embedding rows stored, all tables */
  rows: number;
  /** bytes of the data file (the manifest comes on top) */
  dataBytes: number;
  /** time of the snapshot: how long training was paused */
  pauseSec: number;
}

export interface RestoreResult {
  version: number;
  /** the full base of its chain */
  base: number;
  /** how the tables were read: base + flat increment (+ later increments), or the whole chain */
  path: 'full' | 'flat' | 'chain';
  position: Record<string, unknown>;
  blobs: Record<string, Blob>;
}
