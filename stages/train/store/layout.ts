/**
 * The Redis layout of a run's cold tier, and the `--cold-store` address syntax.
 *
 *     <prefix>:meta                  JSON: fingerprint, dim, optimizer, table sizes, rows per block, shards
 *     <prefix>:{<s>}:fp              shard sentinel: the fingerprint, checked by every Function call
 *     <prefix>:{<s>}:<t>:<blk>       row block: rows [blk·R, blk·R + R) of table t, each row
 *                                    dim fp32 weights then (row-wise Adagrad) one fp32 accumulator
 *
 * `{<s>}` is the Cluster hash tag: block (t, blk) belongs to shard s = (blk + 5·t) mod S, so all
 * keys of a shard share one hash slot and a batch's reads and writes are one Function call per
 * shard (multi-key calls need one slot), pipelined per node. The sentinel lives in the same slot,
 * so a node restarted empty is seen by the very call that would have trained on it.
 *
 * Rows are written lazily: a block key exists once one of its rows was written, and a row never
 * written reads as zero bytes, standing for its seeded initial value (lazy-init.ts, functions.ts).
 *
 * Blocks of R rows instead of a key per row: Redis spends ≈ 60–90 B per key (dict entry, object,
 * SDS header), more than a dim-16 row (68 B); R = 32 brings that under 5 % and leaves a Kaggle-size
 * store at ≈ 450k keys instead of 14M. The Functions read and write single rows inside a block
 * (string.sub / SETRANGE), so a block costs no extra bytes on the wire.
 */
import { badConfig } from '../../../pipeline/errors.js';

/** Rows per block key. */
export const ROWS_PER_BLOCK = 32;
/** Hash-tag shards (spread over the Cluster's masters by CRC16 of "{s}"). */
export const SHARDS = 32;
/** Version of the layout and Function library (in the meta key and the library name). */
export const LAYOUT_VERSION = 2;

/** A parsed `--cold-store` value. */
export interface StoreAddress {
  /** as given */
  spec: string;
  /** one node (standalone) or the Cluster's seed nodes */
  nodes: { host: string; port: number }[];
  cluster: boolean;
  /** key prefix from `?prefix=` (else the caller's default) */
  prefix?: string;
}

const PREFIX_RE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Check a key prefix: no hash-tag braces, no spaces. */
export function checkPrefix(p: string): string {
  if (!PREFIX_RE.test(p)) throw badConfig('--cold-store', `key prefix '${p}' must be 1–64 characters of A–Z a–z 0–9 _ . : -`);
  return p;
}

/**
 * Parse `memory`, `redis://host:port[?prefix=P]` (standalone) or
 * `redis-cluster://h1:p1,h2:p2,…[?prefix=P]` / `redis://h1:p1,h2:p2,…` (Cluster seed nodes).
 * @returns null for `memory`
 */
export function parseStoreAddress(spec: string): StoreAddress | null {
  const s = spec.trim();
  if (s === '' || s === 'memory') return null;
  const m = /^(redis|redis-cluster):\/\/([^?/]+)\/?(?:\?(.*))?$/.exec(s);
  if (!m) throw badConfig('--cold-store', `'${spec}' is not memory, redis://host:port or redis-cluster://host:port,host:port,…`);
  const nodes = m[2]!.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    const host = i > 0 ? hp.slice(0, i) : hp;
    const port = i > 0 ? Number(hp.slice(i + 1)) : 6379;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw badConfig('--cold-store', `'${hp}' in '${spec}' is not host:port`);
    return { host, port };
  });
  let prefix: string | undefined;
  for (const kv of (m[3] ?? '').split('&').filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (k === 'prefix' && v) prefix = checkPrefix(decodeURIComponent(v));
    else throw badConfig('--cold-store', `unknown parameter '${kv}' in '${spec}' (only prefix=…)`);
  }
  return { spec: s, nodes, cluster: m[1] === 'redis-cluster' || nodes.length > 1, prefix };
}

/** Shard of block `blk` of table `t`. */
export function shardOf(t: number, blk: number): number {
  return (blk + 5 * t) % SHARDS;
}

export function metaKey(prefix: string): string {
  return `${prefix}:meta`;
}

export function sentinelKey(prefix: string, s: number): string {
  return `${prefix}:{${s}}:fp`;
}

export function blockKey(prefix: string, t: number, blk: number): string {
  return `${prefix}:{${shardOf(t, blk)}}:${t}:${blk}`;
}

/** What the meta key holds. */
export interface StoreMeta {
  magic: 'hotcold.coldstore';
  layout: number;
  fingerprint: string;
  dim: number;
  optimizer: 'sgd' | 'adagrad';
  sizes: number[];
  rowsPerBlock: number;
  shards: number;
  /** false while a store is being (re)created or rewritten (a store left half-written is recreated, never trained on) */
  complete: boolean;
  /** per table the four int32 seeding its initial rows (lazy-init.ts: rows never written take these values) */
  seeds: number[][];
  /** initial Adagrad accumulator of a never-written row */
  initAccum: number;
  /** rows of the run's hot set: the device holds them (authoritative), their store rows are never written and stay at their initial values */
  hotRows: number;
}

/** Bytes of one stored row. */
export function rowBytes(dim: number, adagrad: boolean): number {
  return (dim + (adagrad ? 1 : 0)) * 4;
}
