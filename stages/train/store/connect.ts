/**
 * Connections to a Redis cold store (ioredis; standalone or Cluster), the Function library's
 * load, and the translation of driver errors into PipelineErrors that name the address.
 *
 *     unreachable at start   bad_config naming the address (exit 2)
 *     lost mid-run           reconnects with exponential backoff, at most `retries` times; then
 *                            every queued command fails and the run stops ('unavailable')
 *     HCLOST / no Function   the store lost its data (node restarted empty): 'mismatch'
 *
 * Commands already sent when a connection breaks are not resent (autoResendUnfulfilledCommands
 * off): an update may or may not have been applied, so the run stops rather than guess.
 */
import { Redis, Cluster } from 'ioredis';
import { PipelineError } from '../../../pipeline/errors.js';
import { LIBRARY_CODE } from './functions.js';
import type { StoreAddress } from './layout.js';

/** A standalone client or a Cluster client: the commands used here exist on both. */
export type StoreClient = Redis | Cluster;

export interface ConnectOptions {
  /** reconnect attempts after a connection is lost (backoff 100 ms · 2^k, at most 2 s each). @default 6 */
  retries?: number;
  /** connect attempts at start before giving up. @default 3 */
  startTries?: number;
}

const RESUME_HINT = 'once the server is back, rerun the same command with --resume: training continues from the last committed checkpoint (the store is rebuilt from it)';

/** Connect, check the server speaks Functions (Redis ≥ 7), load the library on every master. */
export async function connectStore(addr: StoreAddress, o: ConnectOptions = {}): Promise<StoreClient> {
  const retries = o.retries ?? 6;
  const startTries = o.startTries ?? 3;
  let started = false;
  const backoff = (times: number): number | null => {
    if (times > (started ? retries : startTries)) return null;
    return Math.min(100 * 2 ** (times - 1), 2000);
  };
  const common = {
    lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false,
    connectTimeout: 3000, enableReadyCheck: true,
  };
  const client: StoreClient = addr.cluster
    ? new Cluster(addr.nodes, {
        lazyConnect: true, enableAutoPipelining: true, clusterRetryStrategy: backoff, enableReadyCheck: true,
        redisOptions: { ...common, lazyConnect: false },
      })
    : new Redis({ ...addr.nodes[0]!, ...common, retryStrategy: backoff });
  client.on('error', () => undefined); // surfaced through the commands that fail
  try {
    await client.connect();
    const masters = client instanceof Cluster ? client.nodes('master') : [client];
    for (const m of masters) await m.call('FUNCTION', 'LOAD', 'REPLACE', LIBRARY_CODE);
  } catch (e) {
    client.disconnect();
    const msg = e instanceof Error ? e.message : String(e);
    if (/unknown command|FUNCTION/i.test(msg) && !/ECONN|ETIMEDOUT|None of startup/i.test(msg)) {
      throw new PipelineError('bad_config', `the redis server at ${addr.spec} cannot load the hotcold Function library: ${msg}`, {
        field: '--cold-store', hint: 'the redis backend needs Redis ≥ 7 (Functions)', cause: e,
      });
    }
    throw new PipelineError('bad_config', `cannot reach the redis cold store at ${addr.nodes.map((n) => `${n.host}:${n.port}`).join(',')}: ${msg}`, {
      field: '--cold-store', hint: 'start redis-server there (or pass another --cold-store), or train with --cold-store memory', cause: e,
    });
  }
  started = true;
  return client;
}

/** A driver or server error of a store command as a PipelineError naming the address. */
export function storeError(addr: StoreAddress, what: string, e: unknown): PipelineError {
  if (e instanceof PipelineError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  if (/HCLOST|Function not found|Library .* not found/i.test(msg)) {
    return new PipelineError('mismatch', `the redis cold store at ${addr.spec} lost this run's rows while ${what} (${msg}): a node restarted empty, or the keys were dropped; not training on it`, {
      field: '--cold-store', hint: RESUME_HINT, cause: e,
    });
  }
  return new PipelineError('unavailable', `lost the connection to the redis cold store at ${addr.spec} while ${what} (${msg}); stopped cleanly, the last committed checkpoint is intact`, {
    field: '--cold-store', hint: RESUME_HINT, cause: e,
  });
}

/** The masters of a client (each a standalone connection). */
export function masters(client: StoreClient): Redis[] {
  return client instanceof Cluster ? client.nodes('master') : [client];
}
