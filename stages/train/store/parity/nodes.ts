/**
 * Connections to the parity store's standalone nodes. Unlike the redis backend (connect.ts),
 * a node that drops its connection is not retried: the parity store treats it as lost at once
 * (its rows are reconstructed from the others) and rebuilds a replacement — a reconnect could
 * not tell which of the commands in flight were applied.
 */
import { Redis } from 'ioredis';
import { PipelineError } from '../../../../pipeline/errors.js';
import { PARITY_CODE } from './functions.js';
import type { NodeAddr } from './layout.js';

export const nodeName = (a: NodeAddr): string => `${a.host}:${a.port}`;

/** Connect to one node (no reconnects, no offline queue) and load the Function library. */
export async function connectNode(a: NodeAddr, timeoutMs = 3000): Promise<Redis> {
  const c = new Redis({
    host: a.host, port: a.port, lazyConnect: true, enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
    retryStrategy: () => null, autoResendUnfulfilledCommands: false, connectTimeout: timeoutMs, enableReadyCheck: true,
  });
  c.on('error', () => undefined); // surfaced through the commands that fail
  try {
    await c.connect();
    await c.call('FUNCTION', 'LOAD', 'REPLACE', PARITY_CODE);
  } catch (e) {
    c.disconnect();
    throw e;
  }
  return c;
}

/** Is this error a node that is gone (connection refused / reset / closed) or that lost its data? */
export function isNodeLoss(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|Stream isn't writeable|enableOfflineQueue|HCLOST|Function not found|Library .* not found|max retries|ended|aborted due to connection close|ECONNABORTED/i.test(msg);
}

export function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A start-up failure naming the node. */
export function unreachable(a: NodeAddr, role: string, e: unknown): PipelineError {
  return new PipelineError('bad_config', `cannot reach the ${role} node ${nodeName(a)} of the parity cold store: ${errMsg(e)}`, {
    field: '--cold-store', hint: 'start redis-server (≥ 7) there, or pass another --cold-store', cause: e,
  });
}
