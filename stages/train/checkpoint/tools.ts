/**
 * Offline tools over a checkpoint directory: list the chain, verify every
 * checksum, compact (fold the chain into a new full base).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { acquireLock } from '../../../pipeline/lock.js';
import { PipelineError, notFound } from '../../../pipeline/errors.js';
import { flatVersions } from './flat.js';
import { type CheckpointManifest, DATA_RE, FLAT_DATA_RE, TMP_RE, flatManifestName, versionName } from './format.js';
import { verifyFile } from './io.js';
import { committedVersions, isFormatError, readCheckpointManifest, resolveChain } from './manifest.js';
import { CheckpointStore } from './store.js';
import type { SaveResult, TableState, TrainState } from './types.js';

/** One row of `hotcold checkpoint ls`. */
export interface VersionInfo {
  version: number;
  kind: 'full' | 'incr' | '?';
  base: number | null;
  parent: number | null;
  /** data bytes of this version */
  bytes: number;
  createdAt: string;
  threshold: number;
  /** rows stored per table, in table order */
  rows: { name: string; stored: number; total: number }[];
  /** why the manifest could not be read */
  error?: string;
}

function requireDir(dir: string): string {
  const d = resolve(dir);
  if (!existsSync(d)) throw notFound('checkpoint directory', d, 'pass the --checkpoint-dir of a training run');
  return d;
}

/** Every committed version, oldest first (a damaged manifest is listed with its error). */
export function listCheckpoints(dir: string): VersionInfo[] {
  const d = requireDir(dir);
  return committedVersions(d).map((v) => {
    try {
      const m = readCheckpointManifest(d, v);
      return {
        version: v,
        kind: m.kind,
        base: m.base,
        parent: m.parent,
        bytes: m.bytes,
        createdAt: m.createdAt,
        threshold: m.threshold,
        rows: m.tables.map((t) => ({ name: t.name, stored: t.stored, total: t.rows })),
      };
    } catch (e) {
      return { version: v, kind: '?', base: null, parent: null, bytes: 0, createdAt: '', threshold: 0, rows: [], error: (e as Error).message };
    }
  });
}

export interface VerifyReport {
  ok: boolean;
  versions: { version: number; problems: string[]; restorable: boolean }[];
  /** uncommitted leftovers present (removed by the next training run or compact) */
  leftovers: string[];
  /** flat increments (flat.ts): manifest and data file checked; damage here loses nothing (the chain defines the version) */
  flats: { version: number; problems: string[] }[];
}

/** One manifest (a version's, or a flat increment's by `name`) and the size and CRC-32 of each file it lists. */
function verifyManifest(d: string, v: number, name?: string): { manifest?: CheckpointManifest; problems: string[] } {
  const problems: string[] = [];
  let manifest: CheckpointManifest | undefined;
  try {
    manifest = readCheckpointManifest(d, v, name);
    for (const f of manifest.files) {
      try {
        verifyFile(join(d, f.path), f);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
  } catch (e) {
    problems.push((e as Error).message);
  }
  return { manifest, problems };
}

/** Check every committed version: manifest self-hash, each file's size and CRC-32, chain links. */
export async function verifyCheckpoints(dir: string): Promise<VerifyReport> {
  const d = requireDir(dir);
  const names = readdirSync(d);
  if (committedVersions(d).length === 0) {
    throw new PipelineError('not_found', `no committed checkpoint in ${d}: nothing to verify`, {
      file: d,
      hint: 'is this the --checkpoint-dir of a train run (default <out>/checkpoints)?',
    });
  }
  const leftovers = names.filter(
    (n) => TMP_RE.test(n) || ((DATA_RE.test(n) || FLAT_DATA_RE.test(n)) && !names.includes(n.replace(/\.bin$/, '.json'))),
  );
  const flats = flatVersions(d).map((v) => ({ version: v, problems: verifyManifest(d, v, flatManifestName(v)).problems }));
  const own = new Map<number, string[]>();
  const manifests = new Map<number, CheckpointManifest>();
  for (const v of committedVersions(d)) {
    const { manifest, problems } = verifyManifest(d, v);
    if (manifest) manifests.set(v, manifest);
    own.set(v, problems);
  }
  const versions: VerifyReport['versions'] = [];
  for (const [v, problems] of own) {
    let restorable = problems.length === 0;
    if (restorable) {
      try {
        for (const m of resolveChain(d, v, new Map(manifests))) {
          if ((own.get(m.version) ?? []).length > 0) {
            problems.push(`its chain needs ${versionName(m.version)}, which is damaged`);
            restorable = false;
          }
        }
      } catch (e) {
        problems.push((e as Error).message);
        restorable = false;
      }
    }
    versions.push({ version: v, problems, restorable });
  }
  return { ok: versions.every((x) => x.problems.length === 0) && flats.every((x) => x.problems.length === 0), versions, leftovers, flats };
}

/** A zeroed TrainState with the shapes of manifest `m`, to restore into. */
export function emptyState(m: CheckpointManifest): TrainState {
  const dense: Record<string, Float32Array> = {};
  for (const e of m.dense) dense[e.name] = new Float32Array(e.length);
  const tables: TableState[] = m.tables.map((t) => ({
    name: t.name,
    rows: t.rows,
    dim: t.dim,
    weights: new Float32Array(t.rows * t.dim),
    accum: t.accum ? new Float32Array(t.rows) : null,
    touched: new Uint8Array((t.rows + 7) >>> 3),
  }));
  return { dense, tables, blobs: {}, position: m.position, config: m.config };
}

/**
 * Fold the newest valid chain into a new full base holding the same state.
 * @param opts.prune delete every version older than the new base
 */
export function compactCheckpoints(
  dir: string,
  opts: { prune?: boolean; log?: (msg: string) => void } = {},
): { from: number; saved: SaveResult } {
  const d = requireDir(dir);
  // compaction writes into the directory: not while a run checkpoints into it
  const lock = acquireLock(d, 'checkpoint compact', opts.log ?? (() => undefined));
  try {
    return compactLocked(d, opts);
  } finally {
    lock.release();
  }
}

function compactLocked(d: string, opts: { prune?: boolean; log?: (msg: string) => void }): { from: number; saved: SaveResult } {
  const vs = committedVersions(d);
  if (vs.length === 0) throw new PipelineError('not_found', `no committed checkpoint in ${d}`, { file: d });
  let newest: CheckpointManifest | undefined;
  for (let i = vs.length - 1; i >= 0 && !newest; i--) {
    try {
      newest = readCheckpointManifest(d, vs[i]!);
    } catch (e) {
      // another format: say so; a damaged manifest: restore() below reports it
      if (isFormatError(e)) throw e;
    }
  }
  if (!newest) throw new PipelineError('checksum', `no readable checkpoint manifest in ${d}`, { file: d });
  const store = CheckpointStore.open({ dir: d, threshold: 0, fullEvery: 0, keepChains: opts.prune ? 1 : 0, log: opts.log });
  const state = emptyState(newest);
  const r = store.restore(state);
  if (!r) throw new PipelineError('not_found', `no committed checkpoint in ${d}`, { file: d });
  const used = readCheckpointManifest(d, r.version);
  const saved = store.save({ ...state, blobs: r.blobs, position: r.position, config: used.config }, { full: true });
  return { from: r.version, saved };
}
