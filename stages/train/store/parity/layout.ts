/**
 * The parity store's address and layout (ECRec-style erasure coding over standalone Redis nodes).
 *
 *     redis-parity://h:p,…,h:p?data=k&parity=r[&spare=h:p,…][&prefix=P][&probe=ms][&rebuild=blocks/s]
 *
 * The first k nodes hold data, the next r parity; `spare` nodes replace lost ones automatically;
 * a lost node's own address is tried every `probe` ms (default 1000) and rebuilt onto when it answers;
 * `rebuild` paces the background rebuild to that many blocks per second (default 0: unpaced).
 * Keys on every node (standalone servers; no Cluster):
 *
 *     <prefix>:pmeta              JSON: fingerprint, dim, optimizer, sizes, k, r, this node's role and index, complete
 *     <prefix>:fp                 sentinel = the fingerprint (checked by every Function call)
 *     <prefix>:d:<t>:<blk>        data node blk mod k: rows [32·blk, 32·blk + 32) of table t (as layout.ts of the redis backend)
 *     <prefix>:p:<t>:<s>          parity node j: 32 rows, row o = Σ_i c[j][i] · row o of block s·k + i (GF(2^8) over the bytes)
 *     <prefix>:intent:<seq>       parity nodes: (table, row) int32 pairs of the update in flight with that sequence number
 *     <prefix>:scratch            hp_bxor's operand, only inside one call
 *
 * Stripe s of table t = data blocks s·k … s·k + k − 1 (block i on data node i) and parity block s
 * on every parity node; blocks past the table's end (and rows past it in the last block) count as
 * zeros in the code.
 */
import { badConfig } from '../../../../pipeline/errors.js';
import { checkPrefix, ROWS_PER_BLOCK } from '../layout.js';

/** 2: hp_bxor added, hp_xor lost its block mode (a library name per version, so builds before and after never call each other's functions) */
export const PARITY_LAYOUT = 2;

export interface NodeAddr {
  host: string;
  port: number;
}

/** A parsed `redis-parity://` address. */
export interface ParityAddress {
  spec: string;
  k: number;
  r: number;
  /** k data nodes, then r parity nodes */
  nodes: NodeAddr[];
  spares: NodeAddr[];
  prefix?: string;
  /** ms between tries of a lost node's address (`probe=`, default 1000) */
  probeMs?: number;
  /** blocks per second of a background rebuild at most (`rebuild=`, default 0: unpaced) */
  rebuildRate?: number;
}

export function isParitySpec(spec: string | undefined): boolean {
  return (spec ?? '').trim().startsWith('redis-parity://');
}

/** Parse host:port (`spec`: what to name in the error). */
export const hostPort = (hp: string, spec: string): NodeAddr => {
  const i = hp.lastIndexOf(':');
  const host = i > 0 ? hp.slice(0, i) : hp;
  const port = i > 0 ? Number(hp.slice(i + 1)) : 6379;
  if (!host || !Number.isInteger(port) || port < 1 || port > 65535) throw badConfig('--cold-store', `'${hp}' in '${spec}' is not host:port`);
  return { host, port };
};

/** Parse `redis-parity://h:p,…?data=k&parity=r[&spare=…][&prefix=…]`. */
export function parseParityAddress(spec: string): ParityAddress {
  const s = spec.trim();
  const m = /^redis-parity:\/\/([^?/]+)\/?(?:\?(.*))?$/.exec(s);
  if (!m) throw badConfig('--cold-store', `'${spec}' is not redis-parity://host:port,…?data=k&parity=r`);
  const nodes = m[1]!.split(',').map((hp) => hostPort(hp, spec));
  let k = NaN;
  let r = NaN;
  let spares: NodeAddr[] = [];
  let prefix: string | undefined;
  let probeMs: number | undefined;
  let rebuildRate: number | undefined;
  for (const kv of (m[2] ?? '').split('&').filter(Boolean)) {
    const [key, v] = kv.split('=');
    if (key === 'data') k = Number(v);
    else if (key === 'parity') r = Number(v);
    else if (key === 'spare' && v) spares = decodeURIComponent(v).split(',').map((hp) => hostPort(hp, spec));
    else if (key === 'prefix' && v) prefix = checkPrefix(decodeURIComponent(v));
    else if (key === 'probe' && /^\d+$/.test(v ?? '')) probeMs = Number(v);
    else if (key === 'rebuild' && /^\d+$/.test(v ?? '')) rebuildRate = Number(v);
    else throw badConfig('--cold-store', `unknown parameter '${kv}' in '${spec}' (data=, parity=, spare=, prefix=, probe=, rebuild=blocks per second)`);
  }
  if (!Number.isInteger(k) || k < 1) throw badConfig('--cold-store', `'${spec}' needs data=k (k ≥ 1 data nodes)`);
  if (!Number.isInteger(r) || r < 1 || k + r > 255) throw badConfig('--cold-store', `'${spec}' needs parity=r (1 ≤ r, k + r ≤ 255)`);
  if (nodes.length !== k + r) throw badConfig('--cold-store', `'${spec}' lists ${nodes.length} nodes; data=${k} + parity=${r} needs ${k + r} (data nodes first, then parity)`);
  const all = [...nodes, ...spares].map((n) => `${n.host}:${n.port}`);
  const dup = all.find((n, i) => all.indexOf(n) !== i);
  if (dup) throw badConfig('--cold-store', `'${spec}' lists ${dup} twice`);
  return { spec: s, k, r, nodes, spares, prefix, probeMs, rebuildRate };
}

/** Where the rows of a table sit in the stripes. */
export class StripeMap {
  /** blocks per table */
  readonly blocks: number[];
  /** stripes per table */
  readonly stripes: number[];
  /** per node: first node-local block position of each table (and the total at index T) */
  private readonly base: number[][];

  constructor(readonly k: number, readonly r: number, readonly sizes: number[]) {
    this.blocks = sizes.map((n) => Math.ceil(n / ROWS_PER_BLOCK));
    this.stripes = this.blocks.map((b) => Math.ceil(b / k));
    this.base = [];
    for (let n = 0; n < k + r; n++) {
      const b = [0];
      for (let t = 0; t < sizes.length; t++) b.push(b[t]! + this.count(n, t));
      this.base.push(b);
    }
  }

  /** Blocks of node n in table t. */
  count(n: number, t: number): number {
    if (n >= this.k) return this.stripes[t]!;
    const nb = this.blocks[t]!;
    return nb > n ? Math.floor((nb - 1 - n) / this.k) + 1 : 0;
  }

  /** Blocks of node n in all tables. */
  total(n: number): number {
    return this.base[n]![this.sizes.length]!;
  }

  /** Node-local position of data block blk of table t (on node blk mod k). */
  dataPos(t: number, blk: number): number {
    return this.base[blk % this.k]![t]! + Math.floor(blk / this.k);
  }

  /** Node-local position of parity block s of table t (on every parity node). */
  parityPos(t: number, s: number): number {
    return this.base[this.k]![t]! + s;
  }

  /** Node-local position of node n's block of stripe s of table t (data node n: block s·k + n). */
  stripePos(n: number, t: number, s: number): number {
    return this.base[n]![t]! + s;
  }

  /** (table, node-local index) of node n's block at position pos. */
  at(n: number, pos: number): { t: number; i: number } {
    const b = this.base[n]!;
    let t = 0;
    while (b[t + 1]! <= pos) t++;
    return { t, i: pos - b[t]! };
  }

  /** Rows of data block blk of table t (0 past the end). */
  blockRows(t: number, blk: number): number {
    const n = this.sizes[t]! - blk * ROWS_PER_BLOCK;
    return n <= 0 ? 0 : Math.min(ROWS_PER_BLOCK, n);
  }
}

export const pmetaKey = (p: string): string => `${p}:pmeta`;
export const psentinelKey = (p: string): string => `${p}:fp`;
export const dataKey = (p: string, t: number, blk: number): string => `${p}:d:${t}:${blk}`;
export const parityKey = (p: string, t: number, s: number): string => `${p}:p:${t}:${s}`;
export const intentKey = (p: string, seq: number): string => `${p}:intent:${seq}`;
/** scratch operand of hp_bxor (set and deleted inside one call) */
export const scratchKey = (p: string): string => `${p}:scratch`;

/** What pmeta holds. */
export interface ParityMeta {
  magic: 'hotcold.parity';
  layout: number;
  fingerprint: string;
  dim: number;
  optimizer: 'sgd' | 'adagrad';
  sizes: number[];
  k: number;
  r: number;
  role: 'data' | 'parity';
  /** data node i or parity node j */
  index: number;
  complete: boolean;
}
