/**
 * A running trainer and `hotcold store rebuild` on the same parity store, coordinated through
 * keys on the store's nodes:
 *
 *     <prefix>:trainer          the trainer's lease: JSON {pid, host, since}, on every node that
 *                               answers, PX {@link LEASE_MS}, renewed every {@link RENEW_MS}
 *     <prefix>:rebuild:request  a rebuild asked from outside: JSON {id, node, to, by}, PX 60 s
 *     <prefix>:rebuild:status   the trainer's answer: JSON {id, state: started|done|failed, detail}
 *
 * Only the trainer can rebuild while it trains: the rows of its updates in flight are in its own
 * memory, and its reads and writes must switch to the replacement chunk by chunk (rebuild.ts).
 * So `store rebuild` finding a lease does not touch the rows: it writes the request and waits
 * for the trainer's status; the trainer (polling with the renewal) starts its own background
 * rebuild of that node onto that address — a lost node, or a live one to be moved (only while
 * every other node is up: taking it out must not exceed the redundancy). With no lease (no
 * trainer, or one dead for longer than the lease) `store rebuild` rebuilds offline.
 */
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { PipelineError } from '../../../../pipeline/errors.js';
import { nodeName } from './nodes.js';
import type { NodeAddr } from './layout.js';
import type { ParityTables } from './tables.js';

export const LEASE_MS = 15_000;
export const RENEW_MS = 1_000;
const REQUEST_MS = 60_000;

export const leaseKey = (p: string): string => `${p}:trainer`;
export const requestKey = (p: string): string => `${p}:rebuild:request`;
export const statusKey = (p: string): string => `${p}:rebuild:status`;

export interface LeaseInfo {
  pid: number;
  host: string;
  since: string;
}

export interface RebuildRequest {
  id: string;
  /** node index (0-based, data first) */
  node: number;
  to: NodeAddr;
  by: string;
}

export interface RebuildStatus {
  id: string;
  state: 'started' | 'done' | 'failed';
  detail: string;
}

const clients = (T: ParityTables): Redis[] => T.nodes.filter((nd) => nd.state !== 'lost' && nd.client).map((nd) => nd.client!);

export function describeLease(l: LeaseInfo): string {
  return `pid ${l.pid} on host ${l.host}${l.host === hostname() ? ' (this host)' : ''}, since ${l.since}`;
}

/** The trainer's side: hold the lease, and hand rebuild requests to `onRequest`. */
export class TrainerLease {
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly info: LeaseInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  private busy = false;

  /**
   * @param taking requests are taken only while this holds (the trainer is training); until then
   *               they wait on the nodes (they expire after a minute)
   */
  constructor(private readonly T: ParityTables, private readonly onRequest: (r: RebuildRequest) => void, private readonly taking: () => boolean) {}

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), RENEW_MS);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const T = this.T;
    try {
      const v = JSON.stringify(this.info);
      const cs = clients(T);
      await Promise.allSettled(cs.map((c) => c.set(leaseKey(T.prefix), v, 'PX', LEASE_MS)));
      for (const c of this.taking() ? cs : []) {
        const raw = await c.getdel(requestKey(T.prefix)).catch(() => null);
        if (!raw) continue;
        await Promise.allSettled(clients(T).filter((x) => x !== c).map((x) => x.del(requestKey(T.prefix))));
        let req: RebuildRequest;
        try {
          req = JSON.parse(raw) as RebuildRequest;
        } catch {
          continue;
        }
        this.onRequest(req);
        break;
      }
    } finally {
      this.busy = false;
    }
  }

  /** Tell the requester how it goes (every node that answers). */
  status(s: RebuildStatus): void {
    const v = JSON.stringify(s);
    for (const c of clients(this.T)) c.set(statusKey(this.T.prefix), v, 'PX', REQUEST_MS).catch(() => undefined);
  }

  /** Give the lease up (the trainer closes the store). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled(clients(this.T).map((c) => c.del(leaseKey(this.T.prefix))));
  }
}

/** Is this lease another live trainer's (not this process's; on this host: its pid alive)? */
export function foreignLease(l: LeaseInfo): boolean {
  if (l.host !== hostname()) return true;
  if (l.pid === process.pid) return false;
  try {
    process.kill(l.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lease of a trainer running on the store, or null. */
export async function readLease(T: ParityTables): Promise<LeaseInfo | null> {
  for (const c of clients(T)) {
    const raw = await c.get(leaseKey(T.prefix)).catch(() => null);
    if (!raw) continue;
    try {
      return JSON.parse(raw) as LeaseInfo;
    } catch {
      return { pid: 0, host: '?', since: raw };
    }
  }
  return null;
}

/**
 * Ask the running trainer to rebuild node n onto `to` and wait for its answer.
 * @returns the trainer's final status ('done'), or null when the lease went away before the
 *          trainer took the request (then the caller may rebuild offline)
 * @throws PipelineError `unavailable` when the trainer refuses or its rebuild fails, or on timeout
 */
export async function requestRebuild(T: ParityTables, n: number, to: NodeAddr, lease: LeaseInfo, o: { timeoutMs?: number; progress?: (s: RebuildStatus) => void } = {}): Promise<RebuildStatus | null> {
  const id = `${process.pid}@${hostname()}:${Date.now()}`;
  const req: RebuildRequest = { id, node: n, to, by: `pid ${process.pid} on ${hostname()}` };
  const cs = clients(T);
  await Promise.all(cs.map((c) => c.set(requestKey(T.prefix), JSON.stringify(req), 'PX', REQUEST_MS)));
  const t0 = Date.now();
  const timeout = o.timeoutMs ?? 10 * 60_000;
  let taken = false;
  let last = '';
  for (;;) {
    await new Promise((r) => setTimeout(r, 200));
    let st: RebuildStatus | null = null;
    for (const c of clients(T)) {
      const raw = await c.get(statusKey(T.prefix)).catch(() => null);
      if (!raw) continue;
      try {
        const s = JSON.parse(raw) as RebuildStatus;
        if (s.id === id) st = s;
      } catch { /* not ours */ }
      if (st) break;
    }
    if (st) {
      taken = true;
      if (st.state !== last) o.progress?.(st);
      last = st.state;
      if (st.state === 'done') return st;
      if (st.state === 'failed') {
        throw new PipelineError('unavailable', `the trainer running on this store (${describeLease(lease)}) did not rebuild ${T.role(n)} onto ${nodeName(to)}: ${st.detail}`, { field: '--node' });
      }
    }
    if (!taken && !(await readLease(T))) {
      // the trainer is gone (its lease expired) and never took the request
      await Promise.allSettled(clients(T).map((c) => c.del(requestKey(T.prefix))));
      return null;
    }
    if (Date.now() - t0 > timeout) {
      if (!taken) await Promise.allSettled(clients(T).map((c) => c.del(requestKey(T.prefix))));
      throw new PipelineError('unavailable', `the trainer running on this store (${describeLease(lease)}) ${taken ? 'did not finish' : 'did not take'} the rebuild of ${T.role(n)} within ${Math.round(timeout / 1000)}s`, {
        field: '--node', hint: 'see its log; the request is withdrawn',
      });
    }
  }
}

