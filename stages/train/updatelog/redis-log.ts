/**
 * The continuous update log on Redis Streams (ioredis): one stream per embedding table,
 * `<prefix>:ulog:t<i>`, entries with explicit ids `<version>-0` (codec.ts), so the server
 * itself refuses a version that does not increase. Appends are queued without waiting
 * (ioredis pipelines them on the next tick; one connection keeps each stream in order); an
 * append waits only when more than {@link MAX_INFLIGHT_VERSIONS} versions are unanswered, and
 * {@link flush} (trimming, reading, closing) waits for all: a failure surfaces there.
 *
 *     unreachable at open   bad_config naming the address (exit 2)
 *     lost mid-run          the next append/flush fails: 'unavailable' naming the address; the last
 *                           committed checkpoint (and the log up to its marker) is intact
 */
import { Cluster, Redis } from 'ioredis';
import { PipelineError, badConfig } from '../../../pipeline/errors.js';
import { IdBuffer, clearBits, selectRows } from '../checkpoint/delta.js';
import type { TableState } from '../checkpoint/types.js';
import { parseStoreAddress, type StoreAddress } from '../store/layout.js';
import { encodeRows, headOf, type EntryHead } from './codec.js';
import { type LogScan, type Marker, type RawEntry, scanLog } from './scan.js';

/** Shape of one table in the log. */
export interface LogTable {
  name: string;
  rows: number;
  dim: number;
  accum: boolean;
}

export interface UpdateLogOpen {
  /** redis://host:port or redis-cluster://h:p,… with optional ?prefix=P */
  address: string;
  /** key prefix when the address has none */
  prefix: string;
  tables: LogTable[];
  /** connect attempts before giving up. @default 3 */
  startTries?: number;
}

/** Counters of one process's appends. */
export interface LogStats {
  entries: number;
  markers: number;
  /** rows appended, all tables */
  rows: number;
  /** payload + header bytes sent */
  bytes: number;
  /** seconds the training loop spent in append/mark (selecting, gathering, encoding, queueing, waiting for the previous append) */
  pauseSec: number;
  /** entries removed by XTRIM MINID */
  trimmedBelow: number;
}

type Client = Redis | Cluster;

/**
 * One turn of the event loop: ioredis writes its queued commands on a later tick, and the training
 * loop's awaits resolve without returning to the event loop, so without this an entry (or a marker)
 * could wait in the process for several steps — and die with it.
 */
function yieldToIo(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Entries per stream per round trip when a resume reads the log newest first. */
export const SCAN_CHUNK = 16;

const versionOf = (id: string): number => Number(id.split('-')[0]);

/** An XRANGE reply entry as id, header and payload. */
function rawEntry([id, fields]: [Buffer, Buffer[]]): RawEntry {
  const e: RawEntry = { id: id.toString() };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const f = fields[i]!.toString();
    if (f === 'h') e.h = fields[i + 1];
    else if (f === 'd') e.d = fields[i + 1];
  }
  return e;
}

/** The checkpoint version of a marker entry (its header only), else null. */
function markerCkpt(e: RawEntry): number | null {
  if (!e.h || e.h.length > 4096) return null;
  try {
    const h = JSON.parse(e.h.toString()) as { k?: string; ckpt?: number };
    return h.k === 'marker' && typeof h.ckpt === 'number' ? h.ckpt : null;
  } catch {
    return null;
  }
}

/** Versions (all streams) queued before an append waits for the server's answers. */
export const MAX_INFLIGHT_VERSIONS = 8;

export class UpdateLog {
  readonly stats: LogStats = { entries: 0, markers: 0, rows: 0, bytes: 0, pauseSec: 0, trimmedBelow: 0 };
  private nextVersion = 1;
  private prev = 0;
  private inflight: Promise<unknown>[] = [];
  private failed: unknown = null;
  private readonly ids: IdBuffer[];

  private constructor(
    private readonly client: Client,
    readonly address: StoreAddress,
    readonly prefix: string,
    readonly tables: LogTable[],
  ) {
    this.ids = tables.map(() => new IdBuffer());
  }

  /** Stream key of table t. */
  key(t: number): string {
    return `${this.prefix}:ulog:t${t}`;
  }

  /**
   * Connect.
   * @throws PipelineError `bad_config` naming the address when it does not parse or cannot be reached
   */
  static async open(o: UpdateLogOpen): Promise<UpdateLog> {
    const addr = parseStoreAddress(o.address);
    if (!addr) throw badConfig('--log', `'${o.address}' is not a redis address (redis://host:port or redis-cluster://h:p,…)`);
    const tries = o.startTries ?? 3;
    let started = false;
    const backoff = (n: number): number | null => (n > (started ? 6 : tries) ? null : Math.min(100 * 2 ** (n - 1), 2000));
    const common = { lazyConnect: true, enableAutoPipelining: true, maxRetriesPerRequest: null, autoResendUnfulfilledCommands: false, connectTimeout: 3000 };
    const client: Client = addr.cluster
      ? new Cluster(addr.nodes, { lazyConnect: true, enableAutoPipelining: true, clusterRetryStrategy: backoff, redisOptions: { ...common, lazyConnect: false } })
      : new Redis({ ...addr.nodes[0]!, ...common, retryStrategy: backoff });
    client.on('error', () => undefined); // surfaced through the commands that fail
    try {
      await client.connect();
      await client.ping();
    } catch (e) {
      client.disconnect();
      throw new PipelineError('bad_config', `cannot reach the update log at ${addr.nodes.map((n) => `${n.host}:${n.port}`).join(',')}: ${e instanceof Error ? e.message : String(e)}`, {
        field: '--log', hint: 'start redis-server there (or pass another --log), or train without --log', cause: e,
      });
    }
    started = true;
    return new UpdateLog(client, addr, addr.prefix ?? o.prefix, o.tables);
  }

  private lost(what: string, e: unknown): PipelineError {
    if (e instanceof PipelineError) return e;
    return new PipelineError('unavailable', `lost the update log at ${this.address.spec} while ${what} (${e instanceof Error ? e.message : String(e)}); stopped, the last committed checkpoint and the log up to its marker are intact`, {
      field: '--log', hint: 'once the server is back, rerun the same command with --resume', cause: e,
    });
  }

  /** A fresh run: delete this run's streams (a previous run with the same prefix). */
  async reset(): Promise<void> {
    try {
      await Promise.all(this.tables.map((_, t) => this.client.del(this.key(t))));
    } catch (e) {
      throw this.lost('clearing the streams of an earlier run', e);
    }
    this.nextVersion = 1;
    this.prev = 0;
  }

  private send(t: number, v: number, head: EntryHead, payload: Buffer): void {
    const h = JSON.stringify(head);
    this.stats.bytes += payload.length + h.length;
    const p = this.client.xadd(this.key(t), `${v}-0`, 'h', h, 'd', payload).catch((e: unknown) => {
      this.failed ??= this.lost(`appending version ${v}`, e);
    });
    this.inflight.push(p);
  }

  /** Back-pressure: wait when too many versions are unanswered; rethrow a failure seen so far. */
  private async bound(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.inflight.length > MAX_INFLIGHT_VERSIONS * this.tables.length) await this.flush();
  }

  /** Wait for everything queued; rethrows the first failure. */
  async flush(): Promise<void> {
    const q = this.inflight;
    this.inflight = [];
    await Promise.all(q);
    if (this.failed) throw this.failed;
  }

  /**
   * Append the rows of every table touched since the last entry (weights and accumulators, fp32) as
   * version v in every stream, and clear their touched bits. The tables must be current on the host.
   * @returns rows appended
   */
  async append(step: number, tables: TableState[]): Promise<number> {
    const t0 = performance.now();
    await this.bound();
    const v = this.nextVersion++;
    let rows = 0;
    for (let t = 0; t < tables.length; t++) {
      const tab = tables[t]!;
      const idb = this.ids[t]!;
      const n = selectRows(idb, tab.touched, tab.rows, tab.weights, null, tab.dim, 0);
      const payload = encodeRows(idb.data, n, tab.weights, tab.accum, tab.dim);
      clearBits(tab.touched, idb.data, n);
      this.send(t, v, headOf({ k: 'rows', v, prev: this.prev, step, t, n, dim: tab.dim, acc: tab.accum ? 1 : 0 }, payload), payload);
      rows += n;
    }
    this.prev = v;
    await yieldToIo();
    this.stats.entries++;
    this.stats.rows += rows;
    this.stats.pauseSec += (performance.now() - t0) / 1000;
    return rows;
  }

  /**
   * Append a marker: the dense state of checkpoint `ckpt` goes with the log up to here.
   * @returns the marker's log version
   */
  async mark(step: number, ckpt: number): Promise<number> {
    const t0 = performance.now();
    await this.bound();
    const v = this.nextVersion++;
    const empty = Buffer.alloc(0);
    for (let t = 0; t < this.tables.length; t++) {
      const tab = this.tables[t]!;
      this.send(t, v, headOf({ k: 'marker', v, prev: this.prev, step, t, n: 0, dim: tab.dim, acc: tab.accum ? 1 : 0, ckpt }, empty), empty);
    }
    this.prev = v;
    await yieldToIo(); // let the driver write the marker to the socket now (the training loop rarely yields)
    this.stats.markers++;
    this.stats.pauseSec += (performance.now() - t0) / 1000;
    return v;
  }

  /** Delete every entry below log version `v` (XTRIM MINID, exact) in every stream. */
  async trimBelow(v: number): Promise<void> {
    try {
      await this.flush();
      await Promise.all(this.tables.map((_, t) => this.client.xtrim(this.key(t), 'MINID', `${v}-0`)));
    } catch (e) {
      throw this.lost(`trimming below version ${v}`, e);
    }
    this.stats.trimmedBelow = v;
  }

  /**
   * Read the streams and walk them (scan.ts). Whole, or, with `fromMarkerOf`, newest first in
   * pipelined chunks ({@link SCAN_CHUNK} entries per stream per round trip) down to the marker of
   * that checkpoint (the base a resume restores): the walk then starts there (`partial`), and
   * what lies below — rows the base already holds — is never read. When the first stream holds
   * no such marker every stream is read whole (as without it).
   */
  async scan(fromMarkerOf?: number): Promise<LogScan & { partial: boolean }> {
    const T = this.tables.length;
    const got: RawEntry[][] = this.tables.map(() => []);
    const end: string[] = this.tables.map(() => '+');
    const done: boolean[] = this.tables.map(() => false);
    let floor = -1;
    const low = (t: number): number => (got[t]!.length > 0 ? versionOf(got[t]![got[t]!.length - 1]!.id) : Infinity);
    try {
      await this.flush();
      for (;;) {
        const active = [...Array(T).keys()].filter((t) => !done[t] && (floor < 0 || low(t) > floor));
        if (active.length === 0) break;
        const res = await Promise.all(active.map((t) => this.client.xrevrangeBuffer(this.key(t), end[t]!, '-', 'COUNT', SCAN_CHUNK) as Promise<[Buffer, Buffer[]][]>));
        for (const [x, t] of active.entries()) {
          const raw = res[x]!;
          const n0 = got[t]!.length;
          for (const e of raw) got[t]!.push(rawEntry(e));
          if (raw.length < SCAN_CHUNK) done[t] = true;
          else end[t] = `(${got[t]![got[t]!.length - 1]!.id}`;
          if (t === 0 && floor < 0 && fromMarkerOf !== undefined) {
            for (let i = n0; i < got[0]!.length; i++) {
              const v = markerCkpt(got[0]![i]!);
              if (v === fromMarkerOf) {
                floor = versionOf(got[0]![i]!.id);
                break;
              }
            }
          }
        }
      }
    } catch (e) {
      throw this.lost('reading the log', e);
    }
    const streams = got.map((g) => (floor >= 0 ? g.filter((e) => versionOf(e.id) >= floor) : g).reverse());
    return { ...scanLog(streams, this.tables, this.tables.map((x) => x.name)), partial: floor >= 0 };
  }

  /**
   * Continue after marker `m` (resume): delete every entry after it (the dead run's later entries,
   * torn or not), then append from a version above any the streams have generated.
   */
  async continueAfter(scan: LogScan, m: Marker): Promise<number> {
    let dropped = 0;
    try {
      let top = scan.maxSeen;
      const after = scan.versions.filter((x) => x.v > m.v).map((x) => `${x.v}-0`);
      // every stream at once (pipelined), not one round trip after another
      await Promise.all(this.tables.map(async (_, t) => {
        const key = this.key(t);
        const ids = [...after, ...scan.rest[t]!];
        const dels: Promise<number>[] = [];
        for (let i = 0; i < ids.length; i += 512) dels.push(this.client.xdel(key, ...ids.slice(i, i + 512)));
        const info = this.client.call('XINFO', 'STREAM', key).catch(() => null) as Promise<unknown[] | null>;
        for (const n of await Promise.all(dels)) dropped += n;
        const inf = await info;
        if (Array.isArray(inf)) {
          const i = inf.indexOf('last-generated-id');
          if (i >= 0) top = Math.max(top, Number(String(inf[i + 1]).split('-')[0]));
        }
      }));
      this.nextVersion = top + 1;
      this.prev = m.v;
    } catch (e) {
      throw this.lost('dropping the entries after the resumed marker', e);
    }
    return dropped;
  }

  /** Test hook: the raw client (fault injection). */
  get raw(): Client {
    return this.client;
  }

  /** Flush and disconnect. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      this.client.disconnect();
    }
  }

  /** Disconnect without waiting (error paths). */
  abort(): void {
    this.client.disconnect();
  }
}
