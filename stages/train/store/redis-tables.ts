/**
 * A run's tables in Redis (layout.ts): meta and fingerprint, lazy creation (no row written), bulk write and
 * read of whole tables (restore / checkpoint), per-shard row reads and Function updates, and
 * the operator views (stats, dump, drop). Used by the trainer's backend (redis.ts) and by
 * `hotcold store`.
 */
import { PipelineError, mismatch } from '../../../pipeline/errors.js';
import type { Rng } from '../../../pipeline/rng.js';
import type { SparseOptConfig } from '../model/embedding.js';
import type { ShardRequest } from './batch-rows.js';
import { masters, storeError, type StoreClient } from './connect.js';
import { FN_READ, FN_UPDATE } from './functions.js';
import { RowInit, tableSeeds } from './lazy-init.js';
import { blockKey, LAYOUT_VERSION, metaKey, ROWS_PER_BLOCK, rowBytes, SHARDS, sentinelKey, type StoreAddress, type StoreMeta } from './layout.js';

/** Store traffic counters (see StoreReport). */
export interface StoreCounters {
  roundTrips: number;
  rowsRead: number;
  rowsWritten: number;
  bytesRead: number;
  bytesWritten: number;
  /** rows an update found changed by another writer (applied from their current value) */
  conflicts: number;
}

/** What a run's tables are: checked against the meta key at open. */
export interface TablesSpec {
  fingerprint: string;
  dim: number;
  opt: SparseOptConfig;
  sizes: number[];
  /** per table the seed of its initial rows (tableSeeds); readers of a store take them from its meta */
  seeds?: number[][];
}

/** Commands outstanding at most in bulk loops. */
const WINDOW = 256;

export class RedisTables {
  readonly counters: StoreCounters = { roundTrips: 0, rowsRead: 0, rowsWritten: 0, bytesRead: 0, bytesWritten: 0, conflicts: 0 };
  readonly nf: number;
  readonly rowBytes: number;
  /** initial values of never-written rows (null until the seeds are known) */
  rowInit: RowInit | null = null;
  /** rows of the hot set (recorded in meta: their store rows are not the current ones) */
  hotRows = 0;

  constructor(readonly client: StoreClient, readonly addr: StoreAddress, readonly prefix: string, readonly spec: TablesSpec) {
    this.nf = spec.dim + (spec.opt.kind === 'adagrad' ? 1 : 0);
    this.rowBytes = rowBytes(spec.dim, spec.opt.kind === 'adagrad');
    if (spec.seeds) this.useSeeds(spec.seeds);
  }

  /** The tables' seeds (from the run's table rng, or a store's meta): never-written rows take their values. */
  useSeeds(seeds: number[][]): RowInit {
    if (seeds.length !== this.spec.sizes.length) throw new PipelineError('bad_manifest', `${metaKey(this.prefix)} at ${this.addr.spec} has ${seeds.length} table seeds for ${this.spec.sizes.length} tables`);
    this.spec.seeds = seeds;
    this.rowInit = new RowInit(seeds, this.spec.sizes, this.spec.dim, this.spec.opt.initAccum ?? 0);
    return this.rowInit;
  }

  private get init0(): RowInit {
    if (!this.rowInit) throw new PipelineError('internal', 'cold store tables read before their seeds were known');
    return this.rowInit;
  }

  /** The meta key's content, or null when the prefix holds no store. */
  static async readMeta(client: StoreClient, addr: StoreAddress, prefix: string): Promise<StoreMeta | null> {
    let raw: string | null;
    try {
      raw = await client.get(metaKey(prefix));
    } catch (e) {
      throw storeError(addr, 'reading the store meta key', e);
    }
    if (raw === null) return null;
    try {
      const m = JSON.parse(raw) as StoreMeta;
      if (m.magic !== 'hotcold.coldstore') throw new Error('bad magic');
      return m;
    } catch {
      throw new PipelineError('bad_manifest', `${metaKey(prefix)} at ${addr.spec} is not a hotcold store meta key`, { field: '--cold-store', hint: 'use another key prefix (?prefix=…)' });
    }
  }

  /**
   * Refuse a store that holds other tables: other dim, optimizer or table sizes, or another
   * run's fingerprint. @returns the meta (null: no store under the prefix yet)
   */
  async check(): Promise<StoreMeta | null> {
    const m = await RedisTables.readMeta(this.client, this.addr, this.prefix);
    if (!m) return null;
    const s = this.spec;
    const where = `the redis cold store ${this.addr.spec} (prefix '${this.prefix}')`;
    const hint = `drop it first (\`hotcold store drop --cold-store ${this.addr.spec} --prefix ${this.prefix}\`) or use another prefix (?prefix=…)`;
    if (m.layout !== LAYOUT_VERSION || m.rowsPerBlock !== ROWS_PER_BLOCK || m.shards !== SHARDS) throw mismatch(`${where} has layout ${m.layout} (${m.rowsPerBlock} rows/block, ${m.shards} shards); this build writes layout ${LAYOUT_VERSION}`, hint);
    if (m.dim !== s.dim) throw mismatch(`${where} holds tables of dim ${m.dim}; this run has model.dim ${s.dim}`, hint);
    if (m.optimizer !== s.opt.kind) throw mismatch(`${where} holds ${m.optimizer} rows; this run uses ${s.opt.kind}`, hint);
    if (m.sizes.length !== s.sizes.length || m.sizes.some((n, i) => n !== s.sizes[i])) {
      const i = m.sizes.findIndex((n, k) => n !== s.sizes[k]);
      throw mismatch(`${where} holds ${m.sizes.length} tables with other sizes (table C${i + 1}: ${m.sizes[i]} rows in the store, ${s.sizes[i]} in the data)`, hint);
    }
    if (m.fingerprint !== s.fingerprint) throw mismatch(`${where} holds another run's tables (fingerprint ${m.fingerprint}, this run ${s.fingerprint})`, hint);
    return m;
  }

  private meta(complete: boolean): string {
    const s = this.spec;
    const m: StoreMeta = {
      magic: 'hotcold.coldstore', layout: LAYOUT_VERSION, fingerprint: s.fingerprint, dim: s.dim, optimizer: s.opt.kind, sizes: s.sizes,
      rowsPerBlock: ROWS_PER_BLOCK, shards: SHARDS, complete, seeds: this.init0.seeds, initAccum: s.opt.initAccum ?? 0, hotRows: this.hotRows,
    };
    return JSON.stringify(m);
  }

  /**
   * Write every row of every table: `fill(t, r0, n, out)` writes rows [r0, r0+n) of table t
   * (nf floats each: weights, then the accumulator) into out. Meta first (incomplete), the
   * sentinels, the blocks, then meta complete.
   */
  async writeAll(fill: (t: number, r0: number, n: number, out: Float32Array) => void): Promise<void> {
    const c = this.client;
    const pending: Promise<unknown>[] = [];
    const flush = async (): Promise<void> => {
      await Promise.all(pending);
      pending.length = 0;
    };
    const send = async (p: Promise<unknown>): Promise<void> => {
      this.counters.roundTrips++;
      pending.push(p);
      if (pending.length >= WINDOW) await flush();
    };
    try {
      await c.set(metaKey(this.prefix), this.meta(false));
      for (let s = 0; s < SHARDS; s++) await send(c.set(sentinelKey(this.prefix, s), this.spec.fingerprint));
      const CH = 32 * ROWS_PER_BLOCK;
      const buf = new Float32Array(CH * this.nf);
      for (let t = 0; t < this.spec.sizes.length; t++) {
        const rows = this.spec.sizes[t]!;
        for (let r0 = 0; r0 < rows; r0 += CH) {
          const n = Math.min(CH, rows - r0);
          fill(t, r0, n, buf);
          for (let b = 0; b < n; b += ROWS_PER_BLOCK) {
            const nb = Math.min(ROWS_PER_BLOCK, n - b);
            // a copy: the Buffer is held until the command is written
            const bytes = Buffer.from(new Uint8Array(buf.buffer, b * this.rowBytes, nb * this.rowBytes));
            this.counters.rowsWritten += nb;
            this.counters.bytesWritten += bytes.length;
            await send(c.set(blockKey(this.prefix, t, (r0 + b) / ROWS_PER_BLOCK), bytes));
          }
        }
      }
      await flush();
      await c.set(metaKey(this.prefix), this.meta(true));
    } catch (e) {
      await Promise.allSettled(pending);
      throw storeError(this.addr, 'writing the tables', e);
    }
  }

  /**
   * A fresh store for a run (lazy: no row is written): the table seeds from `rng` (four uint32
   * per table, in order, as the memory backend's EmbeddingTable.initUniform draws them), meta
   * (incomplete), every other key under the prefix deleted (another attempt's rows), the shard
   * sentinels, then meta complete. Rows never written read as their initial values.
   * @param hotRows rows the device keeps (never written here; recorded in meta for `store dump`)
   */
  async create(rng: Rng, hotRows = 0): Promise<RowInit> {
    this.hotRows = hotRows;
    const ri = this.useSeeds(tableSeeds(rng, this.spec.sizes.length));
    const c = this.client;
    const meta = metaKey(this.prefix);
    try {
      await c.set(meta, this.meta(false));
      await scanPrefix(c, this.prefix, async (_node, keys) => {
        await Promise.all(keys.filter((k) => k !== meta).map((k) => c.unlink(k)));
      });
      await Promise.all(Array.from({ length: SHARDS }, (_, sh) => c.set(sentinelKey(this.prefix, sh), this.spec.fingerprint)));
      this.counters.roundTrips += SHARDS + 2;
      await c.set(meta, this.meta(true));
    } catch (e) {
      throw storeError(this.addr, 'creating the tables', e);
    }
    return ri;
  }

  /** Every shard sentinel holds this store's fingerprint (else HCLOST: a node restarted empty). */
  async checkSentinels(): Promise<void> {
    const got = await Promise.all(Array.from({ length: SHARDS }, (_, sh) => this.client.get(sentinelKey(this.prefix, sh))));
    this.counters.roundTrips += SHARDS;
    const bad = got.findIndex((v) => v !== this.spec.fingerprint);
    if (bad >= 0) throw new Error(`HCLOST ${sentinelKey(this.prefix, bad)} ${got[bad] === null ? 'is missing' : 'holds another fingerprint'}`);
  }

  /**
   * Read every block of every table: `take(t, r0, n, vals)` gets rows [r0, r0+n) (nf floats each),
   * never-written rows as their initial values.
   */
  async readAll(take: (t: number, r0: number, n: number, vals: Float32Array) => void): Promise<void> {
    const c = this.client;
    const pending: Promise<void>[] = [];
    const flush = async (): Promise<void> => {
      await Promise.all(pending);
      pending.length = 0;
    };
    const ri = this.init0;
    const nf = this.nf;
    try {
      await this.checkSentinels();
      for (let t = 0; t < this.spec.sizes.length; t++) {
        const rows = this.spec.sizes[t]!;
        for (let r0 = 0; r0 < rows; r0 += ROWS_PER_BLOCK) {
          const n = Math.min(ROWS_PER_BLOCK, rows - r0);
          const key = blockKey(this.prefix, t, r0 / ROWS_PER_BLOCK);
          this.counters.roundTrips++;
          pending.push(c.getBuffer(key).then((b) => {
            const len = b?.length ?? 0;
            if (len > n * this.rowBytes || len % this.rowBytes !== 0) throw new Error(`HCLOST block ${key} is ${len} bytes, expected at most ${n} rows of ${this.rowBytes}`);
            const v = new Float32Array(n * nf);
            if (b) new Uint8Array(v.buffer).set(b);
            const bits = new Int32Array(v.buffer);
            for (let i = 0; i < n; i++) {
              let z = true;
              for (let k = 0; k < nf && z; k++) if (bits[i * nf + k] !== 0) z = false;
              if (z) ri.row(t, r0 + i, v, i * nf, nf > this.spec.dim);
            }
            this.counters.rowsRead += n;
            this.counters.bytesRead += len;
            take(t, r0, n, v);
          }));
          if (pending.length >= WINDOW) await flush();
        }
      }
      await flush();
    } catch (e) {
      await Promise.allSettled(pending);
      throw storeError(this.addr, 'reading the tables', e);
    }
  }

  /** Read the rows of one shard request (hc_read). */
  async readRows(q: ShardRequest): Promise<Buffer> {
    this.counters.roundTrips++;
    // fcallBuffer exists at run time (every command has a *Buffer twin) but not in ioredis's types;
    // callBuffer('FCALL', …) loses its command name under auto-pipelining (ioredis 5.11)
    const c = this.client as unknown as { fcallBuffer(...a: (string | number | Buffer)[]): Promise<Buffer> };
    const reply = await c.fcallBuffer(FN_READ, q.keys.length, ...q.keys, this.spec.fingerprint, this.rowBytes, q.pairs);
    this.counters.rowsRead += q.n;
    this.counters.bytesRead += reply.length;
    return reply;
  }

  /**
   * Apply one shard request's accumulated gradients on the server (hc_update): `olds` the rows as
   * the writer used them, `fresh` one byte per row (1: read as never written, `olds` holds its
   * initial value); with the rows it computed (`news`), unchanged rows just take the new bytes.
   * @returns rows another writer had changed (updated from their current value)
   */
  async updateRows(q: ShardRequest, grads: Buffer, olds: Buffer, fresh: Buffer, news?: Buffer): Promise<number> {
    const o = this.spec.opt;
    this.counters.roundTrips++;
    this.counters.rowsWritten += q.n;
    const nw = news ?? Buffer.alloc(0);
    this.counters.bytesWritten += grads.length + q.pairs.length + olds.length + nw.length + fresh.length;
    const slow = Number(await this.client.fcall(FN_UPDATE, q.keys.length, ...q.keys, this.spec.fingerprint, this.spec.dim, o.kind, String(o.lr), String(o.eps ?? 1e-10), q.pairs, grads, olds, nw, fresh));
    this.counters.conflicts += slow;
    return slow;
  }
}

/** Keys under `prefix:` on every master (SCAN), with a callback per batch of keys. */
export async function scanPrefix(client: StoreClient, prefix: string, each: (node: string, keys: string[]) => Promise<void>): Promise<void> {
  for (const m of masters(client)) {
    const node = `${m.options.host}:${m.options.port}`;
    let cursor = '0';
    do {
      const [next, keys] = await m.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await each(node, keys);
    } while (cursor !== '0');
  }
}
