/**
 * What the training loop calls when it runs with `--log`: the update log (redis-log.ts) beside
 * the checkpoint store, the Kafka-fork scheme on Redis Streams.
 *
 *     every N steps        rows touched since the last entry → one entry per table stream
 *     at a checkpoint      the last rows entry, then the store's snapshot (dense state, blobs,
 *                          position; increments carry no embedding rows: they are in the log),
 *                          then a marker naming the checkpoint version
 *     a full base commits  the log below the previous base's marker is trimmed (XTRIM MINID):
 *                          the two chains the store keeps stay recoverable
 *     --resume             newest checkpoint whose marker (and its base's) the log holds complete;
 *                          base tables + the log's rows entries between the two markers, in order;
 *                          the entries after the marker (the dead run's) are deleted
 *
 * The trainer's touched bitsets belong to the log (cleared at each entry); the store sees
 * all-zero bitsets, so its increments hold dense state only and its full bases all rows.
 */
import { PipelineError, badConfig, mismatch } from '../../../pipeline/errors.js';
import type { CheckpointManifest } from '../checkpoint/format.js';
import { committedVersions, resolveChain } from '../checkpoint/manifest.js';
import type { CheckpointStore } from '../checkpoint/store.js';
import type { RestoreResult, SaveResult, TrainState } from '../checkpoint/types.js';
import { UpdateLog, type LogStats } from './redis-log.js';
import { type LogScan, markerOf, replayLog } from './scan.js';

/** The base version of the newest committed checkpoint whose chain's manifests resolve, or null. */
function newestBase(dir: string): number | null {
  const cache = new Map<number, CheckpointManifest>();
  for (const v of committedVersions(dir).reverse()) {
    try {
      return resolveChain(dir, v, cache)[0]!.version;
    } catch {
      // damaged: the restore falls back past it, and so does the read
    }
  }
  return null;
}

/** `--log` flags of `hotcold train`. */
export interface UpdateLogFlags {
  /** redis://host:port[?prefix=P] or redis-cluster://h:p,… */
  address: string;
  /** append the updated rows every N training steps (batches). @default the checkpoint interval */
  every: number;
}

export interface LogDriverOpen {
  /** default key prefix (the cold store's default for the run directory) */
  prefix: string;
  /** the trainer's tables (their touched bitsets are the log's from now on) */
  state: TrainState;
  /** recovery decisions, one line each */
  note: (msg: string) => void;
  startTries?: number;
}

export class LogDriver {
  /** markers this process appended or resumed from: checkpoint version → log version */
  private readonly markers = new Map<number, number>();
  /** log versions of the markers of committed full bases, oldest first */
  private bases: number[] = [];
  private readonly zeros: Uint8Array[];

  private constructor(
    readonly log: UpdateLog,
    readonly every: number,
    private readonly note: (msg: string) => void,
    state: TrainState,
  ) {
    this.zeros = state.tables.map((t) => new Uint8Array(t.touched.length));
  }

  /** Connect to the log (a clear `bad_config` naming the address when unreachable). */
  static async open(flags: UpdateLogFlags, o: LogDriverOpen): Promise<LogDriver> {
    if (!Number.isInteger(flags.every) || flags.every < 1) throw badConfig('--log-every', `must be an integer ≥ 1, got ${flags.every}`);
    const tables = o.state.tables.map((t) => ({ name: t.name, rows: t.rows, dim: t.dim, accum: t.accum !== null }));
    const log = await UpdateLog.open({ address: flags.address, prefix: o.prefix, tables, startTries: o.startTries });
    return new LogDriver(log, flags.every, o.note, o.state);
  }

  get stats(): LogStats {
    return this.log.stats;
  }

  /** A fresh run (or a resume with no checkpoint): this run's streams start empty. */
  async start(): Promise<void> {
    await this.log.reset();
  }

  /** The state the checkpoint store sees: the same arrays, but no touched rows (they are in the log). */
  forStore(s: TrainState): TrainState {
    // the position says so, so that a resume without --log refuses these checkpoints (their increments hold no rows)
    const position = { ...s.position, updateLog: { address: this.log.address.spec, prefix: this.log.prefix } };
    return { ...s, position, tables: s.tables.map((t, i) => ({ ...t, touched: this.zeros[i]! })) };
  }

  /** Is an entry due after `steps` training steps? */
  due(steps: number): boolean {
    return steps % this.every === 0;
  }

  /** The rows touched since the last entry (host tables current). */
  async append(steps: number, s: TrainState): Promise<void> {
    await this.log.append(steps, s.tables);
  }

  /** After the store's snapshot of checkpoint `version`: its marker. */
  async mark(steps: number, version: number): Promise<void> {
    this.markers.set(version, await this.log.mark(steps, version));
  }

  /** A checkpoint committed: after a full base, trim what the previous base covers. */
  async committed(r: SaveResult | null): Promise<void> {
    if (!r || r.kind !== 'full') return;
    const v = this.markers.get(r.version);
    if (v === undefined) return;
    this.bases.push(v);
    if (this.bases.length >= 2) {
      await this.log.trimBelow(this.bases[this.bases.length - 2]!);
      this.bases = this.bases.slice(-2);
    }
  }

  /**
   * `--resume`: restore the newest checkpoint whose marker and whose base's marker the log holds
   * complete, replay the rows entries between them into the tables, drop the entries after.
   * @returns the restored version (as {@link CheckpointStore.restore}), or null when the directory holds none
   * @throws PipelineError `mismatch` when checkpoints exist but the log has a marker for none of them
   */
  async resume(store: CheckpointStore, state: TrainState, hasCheckpoints: boolean): Promise<RestoreResult | null> {
    const t0 = performance.now();
    // read the log only down to the marker of the newest intact chain's base (what a resume
    // replays), and meanwhile restore that chain from disk: the replies queue up in the socket
    // while the (synchronous) restore reads the files
    const scanning = this.log.scan(newestBase(store.dir) ?? undefined);
    scanning.catch(() => undefined); // awaited below (after a restore that may throw first)
    await new Promise((res) => setImmediate(res)); // the first round of reads goes out
    let r = store.restore(state);
    let scan = await scanning;
    const usable = (v: number, base: number): boolean => {
      const m = markerOf(scan, v);
      const b = markerOf(scan, base);
      return m !== null && b !== null && b.v <= m.v;
    };
    let refused: [number, number][] = [];
    const restore = (): RestoreResult | null => store.restore(state, { accept: (v, base) => usable(v, base) || (refused.push([v, base]), false) });
    // the version restored has no complete marker (or base marker) in the log: again, only versions that have
    if (r && !usable(r.version, r.base)) r = restore();
    // a version refused only because its base's marker lies below what was read: read it all, again
    if (scan.partial && refused.some(([v, base]) => (!r || v > r.version) && markerOf(scan, base) === null)) {
      scan = await this.log.scan();
      refused = [];
      r = restore();
    }
    const last = scan.markers[scan.markers.length - 1];
    if (scan.stop !== null) {
      this.note(`update log: ${scan.stop}; replay stops at the last complete marker (${last ? `checkpoint v${last.ckpt}, log version ${last.v}` : 'none'})`);
    }
    if (!r) {
      if (hasCheckpoints) throw this.noMarker(scan, store.dir);
      return null;
    }
    const newer = refused.map(([v]) => v).filter((v) => v > r.version);
    if (newer.length > 0) this.note(`update log: checkpoint${newer.length > 1 ? 's' : ''} v${newer.join(', v')} ha${newer.length > 1 ? 've' : 's'} no complete marker in the log; resuming from v${r.version}`);
    const m = markerOf(scan, r.version)!;
    const b = markerOf(scan, r.base)!;
    const st = replayLog(scan, b.v, m.v, state.tables);
    for (const t of state.tables) t.touched.fill(0);
    const dropped = await this.log.continueAfter(scan, m);
    this.markers.set(r.version, m.v);
    this.markers.set(r.base, b.v);
    this.bases = [b.v];
    this.note(
      `update log: restored checkpoint v${r.version} (dense state; tables from base v${r.base}) + ` +
        (m.v > b.v ? `replay of log versions ${b.v + 1}..${m.v}: ${st.entries} entries, ${st.rows} rows` : 'no replay (a full base)') +
        ` in ${((performance.now() - t0) / 1000).toFixed(2)}s` + (dropped > 0 ? `; dropped ${dropped} later entries of the interrupted run` : ''),
    );
    return r;
  }

  private noMarker(scan: LogScan, dir: string): PipelineError {
    return mismatch(
      `the update log at ${this.log.address.spec} (prefix '${this.log.prefix}') holds no complete marker for any checkpoint in ${dir}` +
        (scan.stop ? ` (${scan.stop})` : scan.markers.length === 0 ? ' (it holds no marker at all)' : ''),
      'resume with the --log (and prefix) the run was started with; or resume without --log from the checkpoints alone only if they were written without it',
    );
  }

  async close(): Promise<void> {
    await this.log.close();
  }

  abort(): void {
    this.log.abort();
  }
}
