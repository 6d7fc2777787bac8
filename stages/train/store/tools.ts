/**
 * `hotcold store` operations on a run's tables in Redis: init (seeded, as train would), stats
 * (rows, bytes, keys per node, hit rates), dump (rows as JSON lines), drop (every key under the
 * prefix, nothing else).
 */
import { resolve } from 'node:path';
import { PipelineError } from '../../../pipeline/errors.js';
import { configHash } from '../../../pipeline/hash.js';
import { Rng } from '../../../pipeline/rng.js';
import type { TrainConfig } from '../config.js';
import { openInputs } from '../setup.js';
import { connectStore, masters, storeError, type StoreClient } from './connect.js';
import { defaultPrefix, storeFingerprint } from './index.js';
import { parseStoreAddress, type StoreAddress, type StoreMeta } from './layout.js';
import { RedisTables, scanPrefix } from './redis-tables.js';

/** Address and prefix of a `hotcold store` command: `?prefix=` in the address, --prefix, or the default of --out. */
export function storeTarget(spec: string, prefix?: string, out?: string): { addr: StoreAddress; prefix: string } {
  const addr = parseStoreAddress(spec);
  if (!addr) throw new PipelineError('bad_config', `--cold-store ${spec}: the store commands need a redis address`, { field: '--cold-store' });
  const p = addr.prefix ?? prefix ?? (out ? defaultPrefix(resolve(out)) : undefined);
  if (!p) throw new PipelineError('bad_config', 'name the run\'s tables: --prefix P, ?prefix=P in the address, or --out <run dir>', { field: '--prefix' });
  return { addr, prefix: p };
}

async function withClient<T>(addr: StoreAddress, f: (c: StoreClient) => Promise<T>): Promise<T> {
  const c = await connectStore(addr, { startTries: 1, retries: 1 });
  try {
    return await f(c);
  } finally {
    c.disconnect();
  }
}

/** Create a run's store (fingerprint, seeds, sentinels; rows lazily), exactly as `hotcold train` with the same config, data and --out would. */
export async function storeInit(spec: string, prefix: string | undefined, cfg: TrainConfig, data: string, hot: string | undefined, out: string | undefined): Promise<{ prefix: string; rows: number; sec: number }> {
  const inputs = await openInputs(cfg, data, hot);
  const dataHash = configHash({ data: inputs.data.fingerprint, hot: inputs.seg?.fingerprint ?? null });
  const t = storeTarget(spec, prefix, out);
  return withClient(t.addr, async (c) => {
    const rt = new RedisTables(c, t.addr, t.prefix, { fingerprint: storeFingerprint(dataHash, cfg), dim: cfg.model.dim, opt: cfg.optim.sparse, sizes: inputs.tableSizes });
    await rt.check();
    const t0 = performance.now();
    await rt.create(Rng.derive(cfg.seed, 12), inputs.hotMap?.table.length ?? 0);
    return { prefix: t.prefix, rows: inputs.tableSizes.reduce((a, b) => a + b, 0), sec: (performance.now() - t0) / 1000 };
  });
}

export interface StoreStats {
  address: string;
  prefix: string;
  meta: StoreMeta | null;
  rows: number;
  /** value bytes under the prefix, all nodes */
  bytes: number;
  nodes: { node: string; keys: number; bytes: number; usedMemory: number; keyspaceHits: number; keyspaceMisses: number; hitRate: number }[];
}

/** Rows, bytes, keys per node and the nodes' keyspace hit rates. */
export async function storeStats(spec: string, prefix?: string, out?: string): Promise<StoreStats> {
  const t = storeTarget(spec, prefix, out);
  return withClient(t.addr, async (c) => {
    const meta = await RedisTables.readMeta(c, t.addr, t.prefix);
    const per = new Map<string, { keys: number; bytes: number }>();
    try {
      await scanPrefix(c, t.prefix, async (node, keys) => {
        const lens = await Promise.all(keys.map((k) => c.strlen(k)));
        const e = per.get(node) ?? { keys: 0, bytes: 0 };
        e.keys += keys.length;
        e.bytes += lens.reduce((a, b) => a + b, 0);
        per.set(node, e);
      });
      const nodes = [];
      for (const m of masters(c)) {
        const node = `${m.options.host}:${m.options.port}`;
        const info = await m.info();
        const num = (k: string): number => Number(new RegExp(`^${k}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
        const hits = num('keyspace_hits');
        const misses = num('keyspace_misses');
        nodes.push({ node, ...(per.get(node) ?? { keys: 0, bytes: 0 }), usedMemory: num('used_memory'), keyspaceHits: hits, keyspaceMisses: misses, hitRate: hits + misses > 0 ? hits / (hits + misses) : 0 });
      }
      const rows = meta ? meta.sizes.reduce((a, b) => a + b, 0) : 0;
      return { address: t.addr.spec, prefix: t.prefix, meta, rows, bytes: nodes.reduce((a, n) => a + n.bytes, 0), nodes };
    } catch (e) {
      throw storeError(t.addr, 'reading store stats', e);
    }
  });
}

/**
 * Rows [from, to) of table `table` (0-based) as { table, row, weights, accum }; rows never
 * written as their initial values. The run's hot rows (meta.hotRows of them) live on the
 * trainer's device and are never written to the store: here they are at their initial values,
 * the checkpoint holds their current ones. @param note receives that caveat when the run has hot rows
 */
export async function storeDump(spec: string, table: number, from: number, to: number, prefix?: string, out?: string, note?: (s: string) => void): Promise<{ table: number; row: number; weights: number[]; accum: number | null }[]> {
  const t = storeTarget(spec, prefix, out);
  return withClient(t.addr, async (c) => {
    const meta = await RedisTables.readMeta(c, t.addr, t.prefix);
    if (!meta) throw new PipelineError('not_found', `no hotcold store under prefix '${t.prefix}' at ${t.addr.spec}`, { field: '--prefix' });
    if (!(table >= 0 && table < meta.sizes.length)) throw new PipelineError('bad_config', `--table ${table + 1}: the store has tables 1…${meta.sizes.length}`, { field: '--table' });
    if (meta.hotRows > 0) note?.(`store dump: ${meta.hotRows} rows of this run are hot: the trainer's device holds them (the authoritative copy, in its checkpoints); their rows here are never written and show their initial values`);
    const n = meta.sizes[table]!;
    const hi = Math.min(to, n);
    const ada = meta.optimizer === 'adagrad';
    const nf = meta.dim + (ada ? 1 : 0);
    const rows: { table: number; row: number; weights: number[]; accum: number | null }[] = [];
    const rt = new RedisTables(c, t.addr, t.prefix, { fingerprint: meta.fingerprint, dim: meta.dim, opt: { kind: meta.optimizer, lr: 1, initAccum: meta.initAccum }, sizes: meta.sizes.map((s, i) => (i === table ? s : 0)), seeds: meta.seeds });
    await rt.readAll((tt, r0, k, v) => {
      for (let i = 0; i < k; i++) {
        const r = r0 + i;
        if (tt !== table || r < from || r >= hi) continue;
        rows.push({ table: tt + 1, row: r, weights: Array.from(v.subarray(i * nf, i * nf + meta.dim)), accum: ada ? v[i * nf + meta.dim]! : null });
      }
    });
    return rows;
  });
}

/** Delete every key under `prefix:` on every master. @returns keys deleted */
export async function storeDrop(spec: string, prefix?: string, out?: string): Promise<{ prefix: string; keys: number }> {
  const t = storeTarget(spec, prefix, out);
  return withClient(t.addr, async (c) => {
    let n = 0;
    try {
      await scanPrefix(c, t.prefix, async (_node, keys) => {
        await Promise.all(keys.map((k) => c.unlink(k)));
        n += keys.length;
      });
    } catch (e) {
      throw storeError(t.addr, 'dropping the tables', e);
    }
    return { prefix: t.prefix, keys: n };
  });
}
