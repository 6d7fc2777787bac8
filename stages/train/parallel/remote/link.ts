/**
 * The coordination of K processes of one run over Redis (transport redis): keys, heartbeats,
 * barriers that carry data, and the coordinator's command lists.
 *
 * Every key of this file carries the hash tag `{<run id>}` (one Cluster slot, so the commands of
 * one connection to it are applied in order) and lives under `{<run id>}:par:`:
 *
 *     rv                  the rendezvous record (JSON, rendezvous.ts)
 *     <a>:ranks           INCR: ranks 1 … K−1 claimed by the joining processes of attempt a
 *     <a>:joined:<r>      JSON {host, pid} of rank r
 *     <a>:hb:<r>          heartbeat, refreshed every heartbeatSec/4, expires after heartbeatSec
 *     <a>:fail            JSON {rank, host, message}: a process that failed says so before exiting
 *     <a>:cmd:<r>         list: the coordinator's commands to rank r (step, sync, load, replica, stop)
 *     <a>:bar:<n>         INCR: arrivals at barrier n; the K-th arrival pushes K − 1 tokens to
 *     <a>:go:<n>          list the others BLPOP on (a dedicated blocking connection per process)
 *     <a>:x:<n>:<r>:<tag> data rank r posted before barrier n (read by the others after it)
 *
 * A barrier waits in slices of 0.5 s; between slices it checks the failure key and every rank's
 * heartbeat, so a process that died (SIGKILL, a lost host) stops the others with worker_failed
 * naming its rank and host instead of a hang. Posted data expires after an hour (a crashed run
 * leaves nothing behind for long); a process deletes its own posts once a later barrier proves
 * every reader has read them.
 */
import { hostname } from 'node:os';
import { PipelineError } from '../../../../pipeline/errors.js';
import { connectStore, storeError, type ConnectOptions, type StoreClient } from '../../store/connect.js';
import type { StoreAddress } from '../../store/layout.js';

/** Seconds posted data and counters live at most. */
const TTL = 3600;

/** Byte view of a typed array (no copy). */
export const bytes = (a: Float32Array | Int32Array | Float64Array, n = a.length): Buffer => Buffer.from(a.buffer, a.byteOffset, n * a.BYTES_PER_ELEMENT);

/** A reply buffer copied into an aligned ArrayBuffer. */
export function aligned(b: Buffer): ArrayBuffer {
  const ab = new ArrayBuffer(b.length);
  new Uint8Array(ab).set(b);
  return ab;
}

/** A coordinator command (JSON in the rank's command list). */
export type Command =
  | {
    op: 'step'; n: number; hot: boolean; epoch: number; idx: number; B: number; sum: number; reconcile: boolean; average: boolean;
    /** Slipstream: the batch (after its filter) is posted by rank 0 before barrier `bn` in `parts` parts (remote/slip.ts) */
    bn?: number; parts?: number;
  }
  | { op: 'replica'; n: number }
  | { op: 'sync'; n: number }
  | { op: 'load'; n: number; parts: number; step: number }
  | { op: 'stop'; reason: string | null };

/** Who a rank is (joined record). */
export interface Member {
  host: string;
  pid: number;
}

/** Base of every coordination key of run `runId`. */
export function parKey(runId: string, rest: string): string {
  return `{${runId}}:par:${rest}`;
}

export class Link {
  /** the commands connection and the blocking one (BLPOP) */
  private constructor(
    readonly client: StoreClient, private readonly blocking: StoreClient, readonly addr: StoreAddress, readonly runId: string,
    readonly attempt: number, readonly rank: number, readonly K: number, private readonly heartbeatSec: number,
  ) {}
  private gen = 0;
  private timer: NodeJS.Timeout | null = null;
  private members: (Member | null)[] = [];
  private myPosts: string[] = [];
  private oldPosts: string[] = [];
  /** bytes this process posted and read (all categories) */
  bytesOut = 0;
  bytesIn = 0;
  barriers = 0;
  barrierSec = 0;
  private closed = false;

  /** Connect both connections (the store's Function library is loaded by connectStore; harmless). */
  static async open(addr: StoreAddress, runId: string, attempt: number, rank: number, K: number, heartbeatSec: number, connect?: ConnectOptions): Promise<Link> {
    const [a, b] = await Promise.all([connectStore(addr, connect), connectStore(addr, connect)]);
    return new Link(a, b, addr, runId, attempt, rank, K, heartbeatSec);
  }

  key(rest: string): string {
    return parKey(this.runId, `${this.attempt}:${rest}`);
  }

  /** Start refreshing this rank's heartbeat (and write it once now). */
  async startHeartbeat(): Promise<void> {
    const ms = Math.max(1, Math.round(this.heartbeatSec * 1000));
    const beat = (): Promise<unknown> => this.client.set(this.key(`hb:${this.rank}`), String(Date.now()), 'PX', ms).catch(() => undefined);
    await beat();
    this.timer = setInterval(() => void beat(), Math.max(50, Math.floor(ms / 4)));
    this.timer.unref();
  }

  /** Record who this rank is. */
  async announce(): Promise<void> {
    const m: Member = { host: hostname(), pid: process.pid };
    await this.client.set(this.key(`joined:${this.rank}`), JSON.stringify(m), 'EX', TTL * 24);
  }

  /** The joined records of every rank (read once all have joined). */
  async readMembers(): Promise<(Member | null)[]> {
    const raw = await Promise.all(Array.from({ length: this.K }, (_, r) => this.client.get(this.key(`joined:${r}`))));
    this.members = raw.map((s) => (s ? (JSON.parse(s) as Member) : null));
    return this.members;
  }

  /** "rank r (host h, pid p)". */
  who(r: number): string {
    const m = this.members[r];
    return m ? `rank ${r} (host ${m.host}, pid ${m.pid})` : `rank ${r}`;
  }

  /** Say this process failed (the others stop at their next barrier or command wait). */
  async markFailed(message: string): Promise<void> {
    const m = { rank: this.rank, host: hostname(), pid: process.pid, message };
    await this.client.set(this.key('fail'), JSON.stringify(m), 'EX', TTL, 'NX').catch(() => undefined);
  }

  /** worker_failed when a rank said it failed or its heartbeat expired; null when all are alive. */
  async checkPeers(): Promise<PipelineError | null> {
    const keys = [this.key('fail'), ...Array.from({ length: this.K }, (_, r) => this.key(`hb:${r}`))];
    const got = await Promise.all(keys.map((k) => this.client.get(k)));
    if (got[0]) {
      const f = JSON.parse(got[0]) as { rank: number; host: string; pid: number; message: string };
      if (f.rank !== this.rank) return this.failure(f.rank, `it failed: ${f.message}`);
    }
    for (let r = 0; r < this.K; r++) {
      if (r === this.rank) continue;
      if (got[1 + r] === null) return this.failure(r, `its heartbeat expired (no sign of life for ${this.heartbeatSec}s: killed, or its host is gone)`);
    }
    return null;
  }

  private failure(r: number, why: string): PipelineError {
    const role = r === 0 ? 'the coordinator' : 'worker';
    return new PipelineError('worker_failed', `train: ${role} ${this.who(r)} of ${this.K} processes stopped: ${why}; ${this.who(this.rank)} stops cleanly at barrier ${this.gen} (nothing half-applied is checkpointed)`, {
      hint: this.rank === 0
        ? `continue from the last consistent checkpoint: rerun the same command with --resume and the same --workers ${this.K}, then start the other processes again with \`hotcold worker --join\``
        : 'the coordinator (rank 0) says how to resume; start this worker again with the same `hotcold worker --join` command once it waits for joins',
    });
  }

  /**
   * Post `data` (tag → bytes) for barrier n, arrive, and wait for every rank.
   * @returns the barrier's number (read the others' posts with {@link read})
   */
  async barrier(data: [string, Buffer][] = []): Promise<number> {
    const n = ++this.gen;
    const c = this.client;
    const t0 = performance.now();
    try {
      const writes: Promise<unknown>[] = [];
      for (const [tag, buf] of data) {
        const k = this.key(`x:${n}:${this.rank}:${tag}`);
        this.myPosts.push(k);
        this.bytesOut += buf.length;
        writes.push(c.set(k, buf, 'EX', TTL));
      }
      const bar = this.key(`bar:${n}`);
      const go = this.key(`go:${n}`);
      // one connection, one slot: the posts are applied before the arrival is counted
      const [count] = await Promise.all([c.incr(bar), c.expire(bar, TTL), ...writes]);
      if (count === this.K) {
        if (this.K > 1) await Promise.all([c.rpush(go, ...Array.from({ length: this.K - 1 }, () => '1')), c.expire(go, TTL)]);
      } else {
        for (;;) {
          const got = await this.blocking.blpop(go, 0.5);
          if (got) break;
          if (this.closed) throw new PipelineError('worker_failed', `train: ${this.who(this.rank)} closed while waiting at barrier ${n}`);
          const f = await this.checkPeers();
          if (f) throw f;
        }
      }
    } catch (e) {
      throw storeError(this.addr, `waiting at barrier ${n} of the parallel run`, e);
    }
    this.barriers++;
    this.barrierSec += (performance.now() - t0) / 1000;
    return n;
  }

  /** What rank r posted under `tag` before barrier n (null: nothing). */
  async read(n: number, r: number, tag: string): Promise<Buffer | null> {
    const b = await this.client.getBuffer(this.key(`x:${n}:${r}:${tag}`)).catch((e: unknown) => { throw storeError(this.addr, 'reading a peer\'s post', e); });
    if (b) this.bytesIn += b.length;
    return b;
  }

  /**
   * After a barrier that every reader of this rank's earlier posts has passed: delete them
   * (posts of the barrier before the last are safe; the last one's are kept until the next call).
   */
  collect(): void {
    const old = this.oldPosts;
    this.oldPosts = this.myPosts;
    this.myPosts = [];
    if (old.length > 0) void Promise.all(old.map((k) => this.client.unlink(k))).catch(() => undefined);
  }

  /** Coordinator: push a command to every other rank. */
  async command(cmd: Command): Promise<void> {
    const s = JSON.stringify(cmd);
    await Promise.all(Array.from({ length: this.K - 1 }, (_, i) => {
      const k = this.key(`cmd:${i + 1}`);
      return Promise.all([this.client.rpush(k, s), this.client.expire(k, TTL)]);
    })).catch((e: unknown) => { throw storeError(this.addr, 'sending a command to the workers', e); });
  }

  /** A worker: the next command (waits, checking the coordinator's and the peers' heartbeats). */
  async nextCommand(): Promise<Command> {
    const k = this.key(`cmd:${this.rank}`);
    for (;;) {
      let got: [string, string] | null;
      try {
        got = await this.blocking.blpop(k, 0.5);
      } catch (e) {
        throw storeError(this.addr, 'waiting for the coordinator\'s next command', e);
      }
      if (got) return JSON.parse(got[1]) as Command;
      const f = await this.checkPeers();
      if (f) throw f;
    }
  }

  /** Big blobs (the initial / restored state) in parts of ≤ 16 MiB under `tag`. */
  async postBlob(n: number, tag: string, blob: Buffer): Promise<number> {
    const PART = 16 << 20;
    const parts = Math.max(1, Math.ceil(blob.length / PART));
    await Promise.all(Array.from({ length: parts }, (_, i) => {
      const k = this.key(`x:${n}:${this.rank}:${tag}.${i}`);
      this.myPosts.push(k);
      return this.client.set(k, blob.subarray(i * PART, (i + 1) * PART), 'EX', TTL);
    }));
    this.bytesOut += blob.length;
    return parts;
  }

  async readBlob(n: number, r: number, tag: string, parts: number): Promise<Buffer> {
    const bufs = await Promise.all(Array.from({ length: parts }, async (_, i) => {
      const b = await this.client.getBuffer(this.key(`x:${n}:${r}:${tag}.${i}`));
      if (!b) throw new PipelineError('worker_failed', `train: part ${i} of the coordinator's ${tag} state is missing from the store (expired, or the store was flushed)`);
      return b;
    }));
    const all = Buffer.concat(bufs);
    this.bytesIn += all.length;
    return all;
  }

  /** Stop the heartbeat (its key expires after heartbeatSec) and close both connections. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const c of [this.client, this.blocking]) await c.quit().catch(() => c.disconnect());
  }

  /** Barrier numbering: the next barrier is n + 1 (blob posts name the barrier they precede). */
  get next(): number {
    return this.gen + 1;
  }
}
