/**
 * CheckpointStore: incremental, crash-safe checkpoints of a {@link TrainState}.
 *
 * save(): full base, then increments holding the rows touched since the last
 * stored version whose ‖current − last stored‖∞ > threshold. Commit protocol
 * (commit.ts): data files → fsync each → manifest under a temporary name → fsync →
 * rename → fsync the directory. Data files carry a CRC-32 computed while writing.
 * beginSave(): the same version, but only the in-memory snapshot (the file image)
 * is made on the caller's time; a worker thread writes and commits it (writer.ts);
 * settle() awaits it. restore(): newest version whose chain (base..v) is fully
 * valid, base + increments (applied newest first, each row copied once).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fsyncDir } from '../../../pipeline/atomic.js';
import { PipelineError, badConfig } from '../../../pipeline/errors.js';
import { configHash } from '../../../pipeline/hash.js';
import { InjectedCrash, type ManifestHead, commitVersion, nowMs, pruneChains } from './commit.js';
import { IdBuffer, clearBits, copyRows, selectRows } from './delta.js';
import { type CheckpointManifest, DATA_RE, FLAT_DATA_RE, TMP_RE, flatManifestName, versionName } from './format.js';
import { type FlatResult, fastestPath, writeFlat } from './flat.js';
import { loadChain } from './load.js';
import { committedVersions, isFormatError, readCheckpointManifest, resolveChain } from './manifest.js';
import { ImageWriter, SizeCounter, writeSections } from './sections.js';
import type { Blob, CheckpointOptions, CommitStep, RestoreResult, SaveResult, SaveStarted, TableState, TrainState } from './types.js';
import { BackgroundWriter, WriteFailed } from './writer.js';

export { InjectedCrash } from './commit.js';


/** What the in-memory touched bits and shadow copies are relative to. */
interface Head {
  version: number;
  base: number;
  baseBytes: number;
  /** bytes of the increments since the base */
  chainBytes: number;
  incrs: number;
  shapeKey: string;
  /** bytes of the chain's newest flat increment (0: none yet) */
  flatBytes: number;
}

/** What one save stores: decided and selected before anything is written. */
interface Plan {
  version: number;
  full: boolean;
  key: string;
  /** head before this save */
  prev: Head | null;
  /** per table: ids of the rows stored (increments only) and their count */
  ids: Int32Array[];
  stored: number[];
}

/** Outcome of a background write (never rejects, so an unawaited one cannot crash the process). */
type Outcome = { ok: true; result: SaveResult; pruned: string | null } | { ok: false; version: number; error: Error };

function shapeKey(tables: TableState[]): string {
  return tables.map((t) => `${t.name}:${t.rows}x${t.dim}${t.accum ? '+a' : ''}`).join(',');
}

function checkTable(t: TableState): void {
  const where = `table '${t.name}'`;
  if (t.weights.length !== t.rows * t.dim) throw new PipelineError('internal', `${where}: weights length ${t.weights.length} ≠ rows×dim ${t.rows * t.dim}`);
  if (t.accum && t.accum.length !== t.rows) throw new PipelineError('internal', `${where}: accum length ${t.accum.length} ≠ rows ${t.rows}`);
  if (t.touched.length < (t.rows + 7) >>> 3) throw new PipelineError('internal', `${where}: touched bitset shorter than ceil(rows/8)`);
}

export class CheckpointStore {
  readonly dir: string;
  readonly threshold: number;
  readonly fullEvery: number;
  private readonly keepChains: number;
  private readonly log: (msg: string) => void;
  private readonly failAfter: CommitStep | undefined;
  private readonly flat: boolean;
  private readonly flatBudget: number;
  private readonly recovery: 'fastest' | 'chain';
  private readonly failFlatAfter: CommitStep | undefined;
  private head: Head | null = null;
  /** last stored weights per table (threshold > 0 only): rows×dim floats each */
  private shadows: Float32Array[] | null = null;
  private readonly ids: IdBuffer[] = [];
  private nextVersion: number;
  /** the file image of a background save (reused; away on the writer thread while a write is in flight) */
  private arena: Uint8Array = new Uint8Array(0);
  private writer: BackgroundWriter | null = null;
  private inflight: Promise<Outcome> | null = null;

  private constructor(opts: CheckpointOptions, dir: string) {
    this.dir = dir;
    this.threshold = opts.threshold;
    this.fullEvery = opts.fullEvery;
    this.keepChains = opts.keepChains ?? 2;
    this.log = opts.log ?? (() => {});
    this.failAfter = opts.failAfter;
    this.flat = opts.flat ?? true;
    this.flatBudget = opts.flatBudget ?? Infinity;
    this.recovery = opts.recovery ?? 'fastest';
    this.failFlatAfter = opts.failFlatAfter;
    const vs = committedVersions(dir);
    this.nextVersion = (vs[vs.length - 1] ?? 0) + 1;
  }

  /** Create the directory if needed and remove leftovers of versions that never committed. */
  static open(opts: CheckpointOptions): CheckpointStore {
    if (!Number.isFinite(opts.threshold) || opts.threshold < 0) badConfigThrow('checkpoint threshold', opts.threshold, 'a number ≥ 0');
    if (!Number.isInteger(opts.fullEvery) || opts.fullEvery < 0) badConfigThrow('full-every', opts.fullEvery, 'an integer ≥ 0');
    if (opts.flatBudget !== undefined && !(opts.flatBudget > 0)) badConfigThrow('flatBudget', opts.flatBudget, 'a number > 0 (Infinity = no bound)');
    const keep = opts.keepChains ?? 2;
    if (!Number.isInteger(keep) || keep < 0) badConfigThrow('keepChains', keep, 'an integer ≥ 0');
    const dir = resolve(opts.dir);
    if (existsSync(dir) && !statSync(dir).isDirectory()) {
      throw new PipelineError('bad_config', `checkpoint directory ${dir} exists and is not a directory`, { file: dir });
    }
    mkdirSync(dir, { recursive: true });
    cleanLeftovers(dir, opts.log ?? (() => {}));
    return new CheckpointStore(opts, dir);
  }

  /** Newest committed version (its manifest readable), or null. */
  latest(): { version: number; kind: 'full' | 'incr' } | null {
    const vs = committedVersions(this.dir);
    for (let i = vs.length - 1; i >= 0; i--) {
      try {
        const m = readCheckpointManifest(this.dir, vs[i]!);
        return { version: m.version, kind: m.kind };
      } catch {
        // damaged manifest: not a usable version
      }
    }
    return null;
  }

  /**
   * Commit a checkpoint of `state` (synchronous: training pauses for the whole
   * write). Full when no version of this process's state is stored yet, after
   * `fullEvery` increments, when the chain's bytes exceed its base's, or when
   * `opts.full`. Clears the touched bits of the rows stored (all touched rows at
   * threshold 0), after the commit.
   * @throws PipelineError `internal` while a background save is in flight (await {@link settle} first)
   */
  save(state: TrainState, opts: { full?: boolean } = {}): SaveResult {
    this.assertIdle('save');
    const t0 = performance.now();
    const startedAt = nowMs();
    const plan = this.plan(state, opts);
    const progress = { committed: false };
    let r: { dataBytes: number; bytes: number };
    try {
      r = commitVersion(this.dir, this.manifestHead(state, plan), (w) => writeSections(w, state, plan.full, plan.ids, plan.stored), {
        failAfter: this.failAfter,
        startedAt,
        progress,
      });
    } catch (e) {
      if (e instanceof InjectedCrash && progress.committed) this.nextVersion = plan.version + 1;
      throw e;
    }
    // committed: the in-memory state now refers to this version
    this.markStored(state, plan);
    this.advance(plan, r.dataBytes);
    if (plan.full) {
      const pruned = pruneChains(this.dir, this.keepChains);
      if (pruned) this.log(pruned);
    }
    const flat = plan.full || !this.flat ? null : this.flatten(plan.version);
    return { version: plan.version, kind: plan.full ? 'full' : 'incr', bytes: r.bytes, rows: sum(plan.stored), pauseSec: (performance.now() - t0) / 1000, flat };
  }

  /**
   * Start a checkpoint of `state` in the background: the same version {@link save}
   * would write (same full/increment rules), but only its snapshot is taken now — the
   * file image (dense arrays, blobs, whole tables or the stored rows with their
   * accumulators), the position and the config are copied into buffers the store owns,
   * and the touched bits of the copied rows are cleared (rows touched from now on
   * belong to the next version). A worker thread then writes, fsyncs, commits and
   * prunes. The caller may change `state` as soon as this returns.
   *
   * At most one save is in flight: call {@link settle} before the next save, before
   * {@link restore}, and before the process or run ends (also on error paths). When a
   * background write fails, {@link settle} logs and rethrows its error, and the next
   * save is a full base.
   * @throws PipelineError `internal` while a save is in flight
   */
  beginSave(state: TrainState, opts: { full?: boolean } = {}): SaveStarted {
    this.assertIdle('beginSave');
    const t0 = performance.now();
    const startedAt = nowMs();
    const plan = this.plan(state, opts);
    const size = new SizeCounter();
    writeSections(size, state, plan.full, plan.ids, plan.stored);
    if (this.arena.length < size.bytes) this.arena = new Uint8Array(size.bytes);
    const img = new ImageWriter(this.arena);
    const layout = writeSections(img, state, plan.full, plan.ids, plan.stored);
    if (img.bytes !== size.bytes) throw new PipelineError('internal', `checkpoint image is ${img.bytes} bytes, expected ${size.bytes}`);
    this.markStored(state, plan);
    const head = this.manifestHead(state, plan);
    this.advance(plan, size.bytes);
    const rows = sum(plan.stored);
    const kind = plan.full ? 'full' : 'incr';
    const writer = (this.writer ??= this.newWriter());
    const image = this.arena;
    this.arena = new Uint8Array(0); // transferred to the writer; comes back with its answer
    // the job (image transferred, position and config cloned) is posted before write() first awaits
    const written = writer.write({
      dir: this.dir, head, layout, image, imageBytes: size.bytes, failAfter: this.failAfter, startedAt,
      keepChains: plan.full ? this.keepChains : null,
      flat: !plan.full && this.flat, failFlatAfter: this.failFlatAfter,
    });
    const pauseSec = (performance.now() - t0) / 1000;
    this.inflight = written.then(
      (w): Outcome => {
        this.arena = w.image;
        const result = { version: plan.version, kind, bytes: w.done.bytes, rows, pauseSec, writeSec: (w.done.finishedAt - startedAt) / 1000 } as const;
        return { ok: true, result, pruned: w.done.pruned };
      },
      (e: unknown): Outcome => {
        // the chain in memory refers to a version that may not exist: the next save is a full base
        this.head = null;
        if (e instanceof WriteFailed && e.image) this.arena = e.image;
        const error = e instanceof WriteFailed ? e.error : (e as Error);
        return { ok: false, version: plan.version, error };
      },
    );
    return { version: plan.version, kind, rows, dataBytes: size.bytes, pauseSec };
  }

  /** Write the flat increment of `version` now (synchronous saves); a failure is logged, never fatal, except the test hook's crash. */
  private flatten(version: number): FlatResult | null {
    try {
      const f = writeFlat(this.dir, version, { failAfter: this.failFlatAfter });
      this.flatDone(version, f);
      return f;
    } catch (e) {
      if (e instanceof InjectedCrash) throw e;
      this.log(`checkpoint: writing the flat increment of ${versionName(version)} failed: ${(e as Error).message}; recovery reads the chain`);
      return null;
    }
  }

  /** A flat increment of `version` was committed (or none was needed): the recovery bound follows its size. */
  private flatDone(version: number, f: FlatResult | null): void {
    const h = this.head;
    if (f && h && h.version >= version && version > h.base) h.flatBytes = f.bytes;
  }

  /** Start the writer thread ahead of the first {@link beginSave} (its start-up, ~0.1–0.3 s under tsx, then overlaps training). */
  warmUp(): void {
    (this.writer ??= this.newWriter()).warm();
  }

  private newWriter(): BackgroundWriter {
    return new BackgroundWriter((m) => {
      if (m.ok) this.flatDone(m.version, m.result);
      else this.log(`checkpoint: writing the flat increment of ${versionName(m.version)} failed: ${m.error}; recovery reads the chain`);
    });
  }

  /** True while a background save has not been settled. */
  get busy(): boolean {
    return this.inflight !== null;
  }

  /**
   * Wait for the background save in flight, if any.
   * @returns its result, or null when none was in flight
   * @throws the write's error (after logging it); the next save is then a full base
   */
  async settle(): Promise<SaveResult | null> {
    const p = this.inflight;
    if (p === null) return null;
    const o = await p;
    if (this.inflight === p) this.inflight = null;
    if (o.ok) {
      if (o.pruned) this.log(o.pruned);
      return o.result;
    }
    this.log(`checkpoint: writing ${versionName(o.version)} failed: ${o.error.message}; the next checkpoint will be a full base`);
    throw o.error;
  }

  /** {@link settle}, then stop the writer thread. The store stays usable (a later background save starts a new thread). */
  async close(): Promise<SaveResult | null> {
    try {
      return await this.settle();
    } finally {
      const w = this.writer;
      this.writer = null;
      await w?.close();
    }
  }

  /**
   * Load the newest version whose chain is fully valid into `into` (same table
   * names and shapes, same dense names and lengths); clears every touched bit.
   * Falls back past damaged versions, logging which one it used and why.
   * @param opts.accept only versions it accepts (given the version and its base) are restored (the update log: versions with a marker)
   * @returns null when the directory holds no committed version, or `accept` refused every undamaged one.
   * @throws PipelineError `mismatch` when shapes differ from the checkpoint's; `checksum` when no version is valid.
   */
  restore(into: TrainState, opts: { accept?: (version: number, base: number) => boolean } = {}): RestoreResult | null {
    this.assertIdle('restore');
    const plan = this.restorePlan(into);
    if (plan === null) return null;
    let refused = 0;
    for (const v of plan.versions) {
      let chain: CheckpointManifest[];
      let blobs: Record<string, Blob>;
      let path: RestoreResult['path'] = 'chain';
      try {
        chain = resolveChain(this.dir, v, plan.cache);
        if (opts.accept && !opts.accept(v, chain[0]!.version)) {
          refused++;
          continue;
        }
        const fast = this.recovery === 'fastest' ? fastestPath(this.dir, chain, this.log) : chain;
        try {
          blobs = loadChain(this.dir, fast, into);
          path = fast === chain ? (chain.length === 1 ? 'full' : 'chain') : 'flat';
        } catch (e) {
          if (fast === chain || !(e instanceof PipelineError) || isFormatError(e)) throw e;
          // a damaged flat increment: the chain defines the version
          this.log(`checkpoint: flat increment ${flatManifestName(fast[1]!.version)} is not usable (${(e as Error).message}); reading the chain`);
          blobs = loadChain(this.dir, chain, into);
        }
      } catch (e) {
        this.skip(v, e, plan.skipped);
        continue;
      }
      return this.adopt(v, chain, blobs, into, plan.skipped, path);
    }
    // every version the caller refused (the update log has no marker for them): nothing to restore
    if (plan.skipped.length === 0 && refused > 0) return null;
    return this.noneValid(plan.skipped);
  }

  private restorePlan(into: TrainState): { versions: number[]; cache: Map<number, CheckpointManifest>; skipped: string[] } | null {
    const versions = committedVersions(this.dir).reverse();
    if (versions.length === 0) return null;
    for (const t of into.tables) checkTable(t);
    return { versions, cache: new Map(), skipped: [] };
  }

  /** A version that failed to load: log and go on with an older one, or rethrow what is not damage. */
  private skip(v: number, e: unknown, skipped: string[]): void {
    // another format is not damage: an older version would not load either; say what to do
    if (isFormatError(e)) throw e;
    if (e instanceof PipelineError && (e.code === 'checksum' || e.code === 'bad_manifest')) {
      skipped.push(`${versionName(v)} (${e.message})`);
      this.log(`checkpoint: ${versionName(v)} is not usable: ${e.message}`);
      return;
    }
    throw e;
  }

  private adopt(v: number, chain: CheckpointManifest[], blobs: Record<string, Blob>, into: TrainState, skipped: string[], path: RestoreResult['path']): RestoreResult {
    const last = chain[chain.length - 1]!;
    const base = chain[0]!;
    if (skipped.length > 0) {
      this.log(`checkpoint: resuming from ${versionName(v)}, the newest fully valid version; skipped ${skipped.join('; ')}`);
    }
    this.log(`checkpoint: restored ${versionName(v)} (base ${versionName(base.version)} + ${chain.length - 1} increments${path === 'flat' ? ', through a flat increment' : ''})`);
    for (const t of into.tables) t.touched.fill(0);
    this.shadows = this.threshold > 0 ? into.tables.map((t) => t.weights.slice()) : null;
    this.head = {
      version: v,
      base: base.version,
      baseBytes: base.bytes,
      chainBytes: chain.slice(1).reduce((s, m) => s + m.bytes, 0),
      incrs: chain.length - 1,
      shapeKey: shapeKey(into.tables),
      flatBytes: 0,
    };
    return { version: v, base: base.version, path, position: last.position, blobs };
  }

  private noneValid(skipped: string[]): never {
    throw new PipelineError('checksum', `no valid checkpoint in ${this.dir}: ${skipped.join('; ')}`, {
      file: this.dir,
      hint: 'run without --resume to start over, or `hotcold checkpoint verify <dir>` for details',
    });
  }

  private assertIdle(what: string): void {
    if (this.inflight !== null) {
      throw new PipelineError('internal', `checkpoint ${what}() while a background save is in flight: await settle() first`);
    }
  }

  /** Full or increment, and (increments) the rows to store; allocates nothing in steady state. */
  private plan(state: TrainState, opts: { full?: boolean }): Plan {
    for (const t of state.tables) checkTable(t);
    const key = shapeKey(state.tables);
    const h = this.head;
    const full =
      opts.full === true ||
      h === null ||
      h.shapeKey !== key ||
      h.incrs >= this.fullEvery ||
      h.chainBytes > h.baseBytes ||
      h.flatBytes > this.flatBudget * h.baseBytes ||
      (this.threshold > 0 && this.shadows === null);
    const ids: Int32Array[] = [];
    const stored: number[] = [];
    for (let i = 0; i < state.tables.length; i++) {
      const t = state.tables[i]!;
      if (full) {
        stored.push(t.rows);
        continue;
      }
      const idb = (this.ids[i] ??= new IdBuffer());
      stored.push(selectRows(idb, t.touched, t.rows, t.weights, this.shadows?.[i] ?? null, t.dim, this.threshold));
      ids.push(idb.data);
    }
    return { version: this.nextVersion, full, key, prev: h, ids, stored };
  }

  private manifestHead(state: TrainState, plan: Plan): ManifestHead {
    const h = plan.prev;
    return {
      version: plan.version,
      kind: plan.full ? 'full' : 'incr',
      base: plan.full || h === null ? plan.version : h.base,
      parent: plan.full || h === null ? null : h.version,
      threshold: this.threshold,
      fingerprint: configHash(state.config ?? null),
      position: state.position,
      config: state.config ?? null,
    };
  }

  /** The in-memory chain now ends at this version. */
  private advance(plan: Plan, dataBytes: number): void {
    const h = plan.prev;
    this.head = plan.full || h === null
      ? { version: plan.version, base: plan.version, baseBytes: dataBytes, chainBytes: 0, incrs: 0, shapeKey: plan.key, flatBytes: 0 }
      : { ...h, version: plan.version, chainBytes: h.chainBytes + dataBytes, incrs: h.incrs + 1, flatBytes: h.incrs === 0 ? dataBytes : h.flatBytes };
    this.nextVersion = plan.version + 1;
  }

  /** The stored rows are the new reference: clear their touched bits, refresh the shadow copies (threshold > 0). */
  private markStored(state: TrainState, plan: Plan): void {
    if (this.threshold > 0 && plan.full) this.shadows = state.tables.map((t, i) => {
      const prev = this.shadows?.[i];
      if (prev && prev.length === t.weights.length) {
        prev.set(t.weights);
        return prev;
      }
      return t.weights.slice();
    });
    for (let i = 0; i < state.tables.length; i++) {
      const t = state.tables[i]!;
      const shadow = this.shadows?.[i];
      if (plan.full || this.threshold === 0 || !shadow) {
        t.touched.fill(0);
      } else {
        clearBits(t.touched, plan.ids[i]!, plan.stored[i]!);
        copyRows(shadow, t.weights, plan.ids[i]!, plan.stored[i]!, t.dim);
      }
    }
  }
}

function sum(xs: number[]): number {
  return xs.reduce((s, n) => s + n, 0);
}

function badConfigThrow(name: string, value: unknown, expected: string): never {
  throw badConfig(name, `must be ${expected}, got ${String(value)}`);
}

/** Remove data files `vNNNNNN.bin` without a committed manifest, and temporary manifests. */
export function cleanLeftovers(dir: string, log: (msg: string) => void): string[] {
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir);
  const committed = new Set(names.filter((n) => n.endsWith('.json')));
  const removed: string[] = [];
  for (const name of names) {
    const m = DATA_RE.exec(name);
    const f = FLAT_DATA_RE.exec(name);
    if ((m && !committed.has(`v${m[1]}.json`)) || (f && !committed.has(`v${f[1]}.flat.json`)) || TMP_RE.test(name)) {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  if (removed.length > 0) {
    fsyncDir(dir);
    log(`checkpoint: removed leftovers of uncommitted versions: ${removed.join(', ')}`);
  }
  return removed;
}
