/**
 * The rendezvous of a multi-process run (transport redis): the coordinator (rank 0, `hotcold
 * train`) writes a record under `{<run id>}:par:rv` in the store and `<out>/rendezvous.json`;
 * `hotcold worker --join <run dir | run id>` finds it, checks its config and data fingerprints
 * against the record (refused, naming both, when they differ), claims a rank with INCR, and
 * waits for the coordinator's first command. The run id is the run's store key prefix
 * (`hc:` + a hash of the run directory, or `?prefix=`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../../../../pipeline/atomic.js';
import { mismatch, PipelineError } from '../../../../pipeline/errors.js';
import type { TrainConfig } from '../../config.js';
import type { StoreClient } from '../../store/connect.js';
import { defaultPrefix, parseStoreAddress } from '../../store/index.js';
import { parKey } from './link.js';

/** The file the coordinator leaves in its run directory. */
export const RENDEZVOUS_FILE = 'rendezvous.json';

export interface Rendezvous {
  magic: 'hotcold.rendezvous';
  runId: string;
  /** increments with every start of the coordinator (a --resume is a new attempt; ranks are claimed per attempt) */
  attempt: number;
  status: 'joining' | 'running' | 'ended';
  K: number;
  configHash: string;
  dataHash: string;
  dataFingerprint: string;
  hotFingerprint: string | null;
  dim: number;
  denseParams: number;
  hotRows: number;
  /** the coordinator's config (a worker without --config trains with it) and its data paths (a worker on the same host without --data reads them) */
  config: TrainConfig;
  dataDir: string;
  hotDir: string | null;
  store: string;
  host: string;
  pid: number;
  created: string;
  /** graph partition: a hash of the owner map (every rank computes the same one) */
  partition: string | null;
}

/** The coordinator's record, written to the store and to <out>/rendezvous.json. */
export async function writeRendezvous(client: StoreClient, out: string, rv: Omit<Rendezvous, 'magic' | 'host' | 'pid' | 'created'>): Promise<Rendezvous> {
  const rec: Rendezvous = { magic: 'hotcold.rendezvous', ...rv, host: hostname(), pid: process.pid, created: new Date().toISOString() };
  await client.set(parKey(rv.runId, 'rv'), JSON.stringify(rec));
  writeFileAtomicSync(join(out, RENDEZVOUS_FILE), `${JSON.stringify({ runId: rv.runId, store: rv.store, attempt: rv.attempt }, null, 2)}\n`);
  return rec;
}

/** Set the record's status (running once all joined, ended at the end). */
export async function setStatus(client: StoreClient, runId: string, status: Rendezvous['status']): Promise<void> {
  const raw = await client.get(parKey(runId, 'rv'));
  if (!raw) return;
  const rec = JSON.parse(raw) as Rendezvous;
  rec.status = status;
  await client.set(parKey(runId, 'rv'), JSON.stringify(rec));
}

export async function readRendezvous(client: StoreClient, runId: string): Promise<Rendezvous | null> {
  const raw = await client.get(parKey(runId, 'rv'));
  if (!raw) return null;
  const rec = JSON.parse(raw) as Rendezvous;
  if (rec.magic !== 'hotcold.rendezvous') throw new PipelineError('bad_manifest', `${parKey(runId, 'rv')} is not a hotcold rendezvous record`);
  return rec;
}

/**
 * `--join <run>`: a run directory holding rendezvous.json (its run id and store), else the
 * `?prefix=` of --cold-store, else a path (the default run id of that directory, as the
 * coordinator computes it), else a run id.
 */
export function resolveJoin(arg: string, coldStore: string | undefined): { runId: string; store: string } {
  const file = join(arg, RENDEZVOUS_FILE);
  if (existsSync(file)) {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { runId: string; store: string };
    return { runId: r.runId, store: coldStore ?? r.store };
  }
  if (!coldStore) {
    throw new PipelineError('bad_config', `--join ${arg}: no ${RENDEZVOUS_FILE} there, so the store is unknown`, { field: '--cold-store', hint: 'pass --cold-store redis://HOST:PORT (the coordinator\'s --cold-store)' });
  }
  // the store's ?prefix= is the run id when given (the coordinator uses it); else the run directory's default prefix, or the id itself
  const named = parseStoreAddress(coldStore)?.prefix;
  if (named) return { runId: named, store: coldStore };
  const looksLikePath = arg.includes('/') || existsSync(arg);
  return { runId: looksLikePath ? defaultPrefix(resolve(arg)) : arg, store: coldStore };
}

/** Refuse a join whose config or data differs from the coordinator's, naming both. */
export function checkJoin(rv: Rendezvous, configHash: string, dataHash: string, data: { fingerprint: string; hot: string | null; dir: string }): void {
  if (configHash !== rv.configHash) {
    throw mismatch(`hotcold worker: run ${rv.runId} trains with config ${rv.configHash}; this worker's config is ${configHash}`, 'join without --config/--set (the coordinator\'s config is used), or with exactly the coordinator\'s config and --set values');
  }
  if (dataHash !== rv.dataHash) {
    const hot = rv.hotFingerprint !== data.hot ? `; segregated ${rv.hotFingerprint} vs ${data.hot}` : '';
    throw mismatch(`hotcold worker: run ${rv.runId} trains on preprocessed data ${rv.dataFingerprint} (${rv.dataDir}); this worker's --data ${data.dir} is ${data.fingerprint}${hot}`, 'give --data / --hot copies of the coordinator\'s preprocessed and segregated data');
  }
}
