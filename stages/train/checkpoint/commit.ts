/**
 * The commit protocol of one checkpoint version, shared by the synchronous save
 * and the background writer thread: data file (CRC-32 while writing) → fsync →
 * fsync the directory → manifest under a temporary name → fsync → rename (the
 * commit point) → fsync the directory. Plus pruning of old chains after a new base.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir, tmpName } from '../../../pipeline/atomic.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { CHECKPOINT_FORMAT_VERSION, CHECKPOINT_MAGIC, type CheckpointManifest, dataName, manifestName, versionName } from './format.js';
import { flatVersions, removeFlats } from './flat.js';
import { HashingWriter } from './io.js';
import { commitManifest, committedVersions, manifestSelfHash, readCheckpointManifest, writeManifestTmp } from './manifest.js';
import type { Layout } from './sections.js';
import type { CommitStep } from './types.js';

/** Thrown by the `failAfter` test hook; files are left as a crash would leave them. */
export class InjectedCrash extends PipelineError {
  constructor(readonly step: CommitStep) {
    super('internal', `injected crash after commit step '${step}' (test hook)`);
  }
}

/** What a version's manifest says besides its layout, files and timing. */
export type ManifestHead = Pick<CheckpointManifest, 'version' | 'kind' | 'base' | 'parent' | 'threshold' | 'fingerprint' | 'position' | 'config'>;

export interface CommitOptions {
  failAfter?: CommitStep;
  /** epoch milliseconds (performance.timeOrigin + performance.now()) when the save began: manifest `elapsedSec` */
  startedAt: number;
  /** set to true at the commit point (the rename), so a caller knows the version exists after a failure */
  progress: { committed: boolean };
  /** file names (default `vNNNNNN.bin` / `vNNNNNN.json`; flat increments use their own) */
  names?: { data: string; manifest: string };
  /** extra manifest fields (flat increments: `merged`) */
  extra?: Pick<CheckpointManifest, 'merged'>;
}

/** Epoch milliseconds with sub-millisecond resolution, comparable across threads. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Write the data file (`fill` writes its sections and returns their layout) and commit
 * the version. On a failure before the commit point the partial files are removed,
 * except after an {@link InjectedCrash}, which leaves them as a crash would.
 * @returns bytes of the data file, and of data file + manifest
 */
export function commitVersion(dir: string, head: ManifestHead, fill: (w: HashingWriter) => Layout, opts: CommitOptions): { dataBytes: number; bytes: number } {
  const step = (s: CommitStep): void => {
    if (opts.failAfter === s) throw new InjectedCrash(s);
  };
  const file = opts.names?.data ?? dataName(head.version);
  const mname = opts.names?.manifest ?? manifestName(head.version);
  const path = join(dir, file);
  const w = new HashingWriter(path);
  let tmp: string | undefined;
  try {
    const layout = fill(w);
    step('data');
    w.sync();
    w.close();
    fsyncDir(dir);
    step('fsync');
    const dataBytes = w.bytes;
    const partial: Omit<CheckpointManifest, 'selfSha256'> = {
      magic: CHECKPOINT_MAGIC,
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      fingerprint: head.fingerprint,
      elapsedSec: (nowMs() - opts.startedAt) / 1000,
      files: [w.entry(file)],
      version: head.version,
      kind: head.kind,
      base: head.base,
      parent: head.parent,
      threshold: head.threshold,
      bytes: dataBytes,
      ...layout,
      position: head.position,
      config: head.config,
      ...opts.extra,
    };
    const manifest: CheckpointManifest = { ...partial, selfSha256: manifestSelfHash(partial) };
    tmp = writeManifestTmp(dir, manifest, mname);
    step('manifest-tmp');
    commitManifest(dir, tmp, head.version, mname);
    opts.progress.committed = true;
    step('rename');
    fsyncDir(dir);
    return { dataBytes, bytes: dataBytes + Buffer.byteLength(JSON.stringify(manifest, null, 1)) + 1 };
  } catch (e) {
    w.close();
    if (!(e instanceof InjectedCrash) && !opts.progress.committed) {
      rmSync(tmp ?? tmpName(join(dir, mname)), { force: true });
      rmSync(path, { force: true });
    }
    throw e;
  }
}

/**
 * After a new base: delete versions older than the `keepChains`-th newest base
 * (manifests first, then an fsync of the directory, then data files).
 * @returns a log line when something was deleted, else null
 */
export function pruneChains(dir: string, keepChains: number): string | null {
  if (keepChains === 0) return null;
  const vs = committedVersions(dir);
  const bases: number[] = [];
  for (let i = vs.length - 1; i >= 0 && bases.length < keepChains; i--) {
    try {
      if (readCheckpointManifest(dir, vs[i]!).kind === 'full') bases.push(vs[i]!);
    } catch {
      // a damaged version is pruned with the rest once it is old enough
    }
  }
  if (bases.length < keepChains) return null;
  const cut = bases[bases.length - 1]!;
  const old = vs.filter((v) => v < cut);
  const oldFlats = flatVersions(dir).filter((v) => v < cut);
  removeFlats(dir, oldFlats);
  if (old.length === 0) return null;
  for (const v of old) rmSync(join(dir, manifestName(v)), { force: true });
  fsyncDir(dir);
  for (const v of old) rmSync(join(dir, dataName(v)), { force: true });
  return `checkpoint: pruned ${old.length} versions older than base ${versionName(cut)}`;
}
