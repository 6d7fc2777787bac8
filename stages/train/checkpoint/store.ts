/**
 * CheckpointStore: incremental, crash-safe checkpoints of a {@link TrainState}.
 *
 * save(): full base, then increments holding the rows touched since the last
 * stored version whose ‖current − last stored‖∞ > threshold. Commit protocol:
 * data files → fsync each → manifest under a temporary name → fsync → rename →
 * fsync the directory. Data files carry a CRC-32 computed while writing.
 * restore(): newest version whose chain (base..v) is fully valid, base +
 * increments (applied newest first, each row copied once).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fsyncDir, tmpName } from '../../../pipeline/atomic.js';
import { PipelineError, badConfig } from '../../../pipeline/errors.js';
import { configHash } from '../../../pipeline/hash.js';
import { IdBuffer, clearBits, copyRows, gatherRows, selectRows } from './delta.js';
import {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_MAGIC,
  type BlobEntry,
  type CheckpointManifest,
  type DenseEntry,
  SECTION,
  DATA_RE,
  TMP_RE,
  type TableEntry,
  blobDtype,
  dataName,
  manifestName,
  versionName,
} from './format.js';
import { HashingWriter } from './io.js';
import { loadChain } from './load.js';
import { commitManifest, committedVersions, isFormatError, manifestSelfHash, readCheckpointManifest, resolveChain, writeManifestTmp } from './manifest.js';
import type { Blob, CheckpointOptions, CommitStep, RestoreResult, SaveResult, TableState, TrainState } from './types.js';

/** Thrown by the `failAfter` test hook; files are left as a crash would leave them. */
export class InjectedCrash extends PipelineError {
  constructor(readonly step: CommitStep) {
    super('internal', `injected crash after commit step '${step}' (test hook)`);
  }
}

/** What the in-memory touched bits and shadow copies are relative to. */
interface Head {
  version: number;
  base: number;
  baseBytes: number;
  /** bytes of the increments since the base */
  chainBytes: number;
  incrs: number;
  shapeKey: string;
}

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
  private head: Head | null = null;
  /** last stored weights per table (threshold > 0 only): rows×dim floats each */
  private shadows: Float32Array[] | null = null;
  private readonly ids: IdBuffer[] = [];
  private rowBuf = new Float32Array(0);
  private accBuf = new Float32Array(0);
  private nextVersion: number;

  private constructor(opts: CheckpointOptions, dir: string) {
    this.dir = dir;
    this.threshold = opts.threshold;
    this.fullEvery = opts.fullEvery;
    this.keepChains = opts.keepChains ?? 2;
    this.log = opts.log ?? (() => {});
    this.failAfter = opts.failAfter;
    const vs = committedVersions(dir);
    this.nextVersion = (vs[vs.length - 1] ?? 0) + 1;
  }

  /** Create the directory if needed and remove leftovers of versions that never committed. */
  static open(opts: CheckpointOptions): CheckpointStore {
    if (!Number.isFinite(opts.threshold) || opts.threshold < 0) badConfigThrow('checkpoint threshold', opts.threshold, 'a number ≥ 0');
    if (!Number.isInteger(opts.fullEvery) || opts.fullEvery < 0) badConfigThrow('full-every', opts.fullEvery, 'an integer ≥ 0');
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
   * Commit a checkpoint of `state` (synchronous). Full when no version of this
   * process's state is stored yet, after `fullEvery` increments, when the chain's
   * bytes exceed its base's, or when `opts.full`. Clears the touched bits of the
   * rows stored (all touched rows at threshold 0).
   */
  save(state: TrainState, opts: { full?: boolean } = {}): SaveResult {
    const t0 = performance.now();
    for (const t of state.tables) checkTable(t);
    const key = shapeKey(state.tables);
    const h = this.head;
    const full =
      opts.full === true ||
      h === null ||
      h.shapeKey !== key ||
      h.incrs >= this.fullEvery ||
      h.chainBytes > h.baseBytes ||
      (this.threshold > 0 && this.shadows === null);
    const version = this.nextVersion;
    const file = dataName(version);
    const path = join(this.dir, file);
    const w = new HashingWriter(path);
    const stored: number[] = [];
    let tmp: string | undefined;
    let committed = false;
    try {
      const dense: DenseEntry[] = [];
      const denseOffset = w.bytes;
      const denseNames = Object.keys(state.dense);
      w.header(SECTION.dense, denseNames.length);
      for (const name of denseNames) {
        const a = state.dense[name]!;
        dense.push({ name, length: a.length, offset: w.bytes });
        w.write(a);
      }
      w.pad8();
      const blobs: BlobEntry[] = [];
      const blobsOffset = w.bytes;
      const blobNames = Object.keys(state.blobs);
      w.header(SECTION.blobs, blobNames.length);
      for (const name of blobNames) {
        const a = state.blobs[name]!;
        w.pad8();
        blobs.push({ name, dtype: blobDtype(a), length: a.length, offset: w.bytes });
        w.write(a);
      }
      const tables: TableEntry[] = [];
      for (let i = 0; i < state.tables.length; i++) {
        const t = state.tables[i]!;
        w.pad8();
        const offset = w.bytes;
        let n: number;
        if (full) {
          n = t.rows;
          w.header(SECTION.full, n);
          w.write(t.weights);
          if (t.accum) w.write(t.accum);
        } else {
          const idb = (this.ids[i] ??= new IdBuffer());
          n = selectRows(idb, t.touched, t.rows, t.weights, this.shadows?.[i] ?? null, t.dim, this.threshold);
          if (this.rowBuf.length < n * t.dim) this.rowBuf = new Float32Array(Math.max(n * t.dim, this.rowBuf.length * 2));
          gatherRows(this.rowBuf, t.weights, idb.data, n, t.dim);
          w.header(SECTION.incr, n);
          w.write(idb.data.subarray(0, n));
          w.pad8();
          w.write(this.rowBuf.subarray(0, n * t.dim));
          if (t.accum) {
            if (this.accBuf.length < n) this.accBuf = new Float32Array(Math.max(n, this.accBuf.length * 2));
            gatherRows(this.accBuf, t.accum, idb.data, n, 1);
            w.write(this.accBuf.subarray(0, n));
          }
        }
        stored.push(n);
        tables.push({ name: t.name, rows: t.rows, dim: t.dim, accum: t.accum !== null, stored: n, offset });
      }
      this.step('data');
      w.sync();
      w.close();
      fsyncDir(this.dir);
      this.step('fsync');
      const files = [w.entry(file)];
      const dataBytes = w.bytes;
      const base = full || h === null ? version : h.base;
      const partial: Omit<CheckpointManifest, 'selfSha256'> = {
        magic: CHECKPOINT_MAGIC,
        formatVersion: CHECKPOINT_FORMAT_VERSION,
        createdAt: new Date().toISOString(),
        fingerprint: configHash(state.config ?? null),
        elapsedSec: 0,
        files,
        version,
        kind: full ? 'full' : 'incr',
        base,
        parent: full || h === null ? null : h.version,
        threshold: this.threshold,
        bytes: dataBytes,
        denseOffset,
        blobsOffset,
        dense,
        blobs,
        tables,
        position: state.position,
        config: state.config ?? null,
      };
      partial.elapsedSec = (performance.now() - t0) / 1000;
      const manifest: CheckpointManifest = { ...partial, selfSha256: manifestSelfHash(partial) };
      tmp = writeManifestTmp(this.dir, manifest);
      this.step('manifest-tmp');
      commitManifest(this.dir, tmp, version);
      committed = true;
      this.step('rename');
      fsyncDir(this.dir);
      const bytes = dataBytes + Buffer.byteLength(JSON.stringify(manifest, null, 1)) + 1;

      // committed: the in-memory state now refers to this version
      this.afterCommit(state, full, stored);
      this.head = full || h === null
        ? { version, base: version, baseBytes: dataBytes, chainBytes: 0, incrs: 0, shapeKey: key }
        : { ...h, version, chainBytes: h.chainBytes + dataBytes, incrs: h.incrs + 1 };
      this.nextVersion = version + 1;
      if (full) this.prune();
      const rows = stored.reduce((s, n) => s + n, 0);
      return { version, kind: full ? 'full' : 'incr', bytes, rows, pauseSec: (performance.now() - t0) / 1000 };
    } catch (e) {
      w.close();
      if (e instanceof InjectedCrash) {
        if (committed) this.nextVersion = version + 1;
        throw e;
      }
      if (!committed) {
        if (tmp !== undefined) rmSync(tmp, { force: true });
        else rmSync(tmpName(join(this.dir, manifestName(version))), { force: true });
        rmSync(path, { force: true });
      }
      throw e;
    }
  }

  /**
   * Load the newest version whose chain is fully valid into `into` (same table
   * names and shapes, same dense names and lengths); clears every touched bit.
   * Falls back past damaged versions, logging which one it used and why.
   * @returns null when the directory holds no committed version.
   * @throws PipelineError `mismatch` when shapes differ from the checkpoint's; `checksum` when no version is valid.
   */
  restore(into: TrainState): RestoreResult | null {
    const plan = this.restorePlan(into);
    if (plan === null) return null;
    for (const v of plan.versions) {
      let chain: CheckpointManifest[];
      let blobs: Record<string, Blob>;
      try {
        chain = resolveChain(this.dir, v, plan.cache);
        blobs = loadChain(this.dir, chain, into);
      } catch (e) {
        this.skip(v, e, plan.skipped);
        continue;
      }
      return this.adopt(v, chain, blobs, into, plan.skipped);
    }
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

  private adopt(v: number, chain: CheckpointManifest[], blobs: Record<string, Blob>, into: TrainState, skipped: string[]): RestoreResult {
    const last = chain[chain.length - 1]!;
    const base = chain[0]!;
    if (skipped.length > 0) {
      this.log(`checkpoint: resuming from ${versionName(v)}, the newest fully valid version; skipped ${skipped.join('; ')}`);
    }
    this.log(`checkpoint: restored ${versionName(v)} (base ${versionName(base.version)} + ${chain.length - 1} increments)`);
    for (const t of into.tables) t.touched.fill(0);
    this.shadows = this.threshold > 0 ? into.tables.map((t) => t.weights.slice()) : null;
    this.head = {
      version: v,
      base: base.version,
      baseBytes: base.bytes,
      chainBytes: chain.slice(1).reduce((s, m) => s + m.bytes, 0),
      incrs: chain.length - 1,
      shapeKey: shapeKey(into.tables),
    };
    return { version: v, position: last.position, blobs };
  }

  private noneValid(skipped: string[]): never {
    throw new PipelineError('checksum', `no valid checkpoint in ${this.dir}: ${skipped.join('; ')}`, {
      file: this.dir,
      hint: 'run without --resume to start over, or `hotcold checkpoint verify <dir>` for details',
    });
  }

  private step(s: CommitStep): void {
    if (this.failAfter === s) throw new InjectedCrash(s);
  }

  private afterCommit(state: TrainState, full: boolean, stored: number[]): void {
    if (this.threshold > 0 && full) this.shadows = state.tables.map((t, i) => {
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
      if (full || this.threshold === 0 || !shadow) {
        t.touched.fill(0);
      } else {
        const idb = this.ids[i]!;
        clearBits(t.touched, idb.data, stored[i]!);
        copyRows(shadow, t.weights, idb.data, stored[i]!, t.dim);
      }
    }
  }

  /** After a new base: delete versions older than the keepChains-th newest base (manifest first). */
  private prune(): void {
    if (this.keepChains === 0) return;
    const vs = committedVersions(this.dir);
    const bases: number[] = [];
    for (let i = vs.length - 1; i >= 0 && bases.length < this.keepChains; i--) {
      try {
        if (readCheckpointManifest(this.dir, vs[i]!).kind === 'full') bases.push(vs[i]!);
      } catch {
        // a damaged version is pruned with the rest once it is old enough
      }
    }
    if (bases.length < this.keepChains) return;
    const cut = bases[bases.length - 1]!;
    const old = vs.filter((v) => v < cut);
    if (old.length === 0) return;
    for (const v of old) rmSync(join(this.dir, manifestName(v)), { force: true });
    fsyncDir(this.dir);
    for (const v of old) rmSync(join(this.dir, dataName(v)), { force: true });
    this.log(`checkpoint: pruned ${old.length} versions older than base ${versionName(cut)}`);
  }
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
    if ((m && !committed.has(`v${m[1]}.json`)) || TMP_RE.test(name)) {
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
