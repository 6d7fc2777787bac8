/**
 * `hotcold store scrub|rebuild` for the parity store:
 *
 *     scrub     every stripe read raw; the parity its data encode to compared with the stored
 *               parity, row offset by row offset: mismatches reported with the row ids of the
 *               stripe's rows at that offset (with r = 1 any one of them may be the corrupted one;
 *               the parity row itself is a candidate too). Intents left by a trainer that died
 *               mid-update are listed. `--repair` re-encodes the parity of the stripes named by
 *               intents or found mismatching from the data, and deletes the intents.
 *     rebuild   the rows of a node reconstructed onto a replacement (`--to`, default its own
 *               address, e.g. restarted empty): offline when no trainer runs on the store; with a
 *               trainer running (its lease), handed to it (lease.ts): it rebuilds in the background
 *               while training, as for a spare, and this command waits for its answer.
 */
import { PipelineError } from '../../../../pipeline/errors.js';
import { resolve } from 'node:path';
import { defaultPrefix } from '../index.js';
import { ROWS_PER_BLOCK } from '../layout.js';
import { hostPort, parseParityAddress, intentKey, psentinelKey, type NodeAddr } from './layout.js';
import { nodeName } from './nodes.js';
import { describeLease, readLease, requestRebuild } from './lease.js';
import { Rebuilder } from './rebuild.js';
import { ParityTables } from './tables.js';

/** Connect to a parity store's nodes (those that answer), its spec from their meta keys, and mark the stale ones down ({@link markStale}). */
export async function openParity(spec: string, prefix?: string, out?: string): Promise<ParityTables> {
  const t = await connectParity(spec, prefix, out);
  await markStale(t);
  return t;
}

/**
 * Connect to a parity store's nodes (those that answer), its spec from their meta keys; no node
 * judged yet. A trainer's lease (lease.ts) is read before any node is judged: a running trainer
 * writes meta (incomplete), sentinels and blocks on every node as it starts, and rebuilds nodes
 * while it trains, so those states say nothing about a loss while it holds the store.
 */
async function connectParity(spec: string, prefix?: string, out?: string): Promise<ParityTables> {
  const addr = parseParityAddress(spec);
  const p = addr.prefix ?? prefix ?? (out ? defaultPrefix(resolve(out)) : undefined);
  if (!p) throw new PipelineError('bad_config', 'name the run\'s tables: --prefix P, ?prefix=P in the address, or --out <run dir>', { field: '--prefix' });
  const probe = new ParityTables(addr, p, { fingerprint: '', dim: 1, opt: { kind: 'sgd', lr: 1 }, sizes: [1] });
  await probe.connect({ allowDown: true }).catch(() => undefined);
  let meta = null;
  for (const nd of probe.nodes) {
    if (nd.state !== 'ok') continue;
    meta = await probe.readMeta(nd.n);
    if (meta) break;
  }
  probe.close();
  if (!meta) throw new PipelineError('not_found', `no hotcold parity store under prefix '${p}' on ${addr.spec}`, { field: '--prefix' });
  const t = new ParityTables(addr, p, { fingerprint: meta.fingerprint, dim: meta.dim, opt: { kind: meta.optimizer, lr: 1 }, sizes: meta.sizes });
  await t.connect({ allowDown: true });
  return t;
}

/** A node that lost its keys or whose rebuild did not finish is down (its rows are reconstructed from the others). */
async function markStale(t: ParityTables): Promise<void> {
  // a node that answers without the run's sentinel lost its keys (restarted empty), one without a
  // complete meta is a replacement whose rebuild did not finish: down (its rows are reconstructed)
  for (const nd of t.nodes) {
    if (nd.state !== 'ok') continue;
    const fp = await nd.client!.get(psentinelKey(t.prefix)).catch(() => null);
    if (fp !== t.spec.fingerprint) {
      t.lose(nd.n, new Error(fp === null ? 'the run\'s keys are missing (restarted empty?)' : 'holds another run\'s sentinel'));
      continue;
    }
    const m = await t.readMeta(nd.n).catch(() => null);
    if (!m?.complete) t.lose(nd.n, new Error('its rebuild did not finish (no complete meta)'));
  }
}

export interface ScrubMismatch {
  /** 1-based table number (C1…) */
  table: number;
  stripe: number;
  /** row offset in the stripe's blocks */
  offset: number;
  parityNode: number;
  /** row ids of the stripe at that offset (one of them, or the parity row, disagrees) */
  rows: number[];
}

export interface ScrubReport {
  stripes: number;
  /** stripes with a member on a node that is down (not checked) */
  unchecked: number;
  mismatches: ScrubMismatch[];
  /** rows named by intents (updates a dead trainer left half applied): table (1-based), row */
  intents: { key: string; rows: [number, number][] }[];
  /** stripes whose parity --repair re-encoded */
  repaired: number;
}

/** Intent keys on the parity nodes that answer, with their (table, row) pairs. */
export async function readIntents(T: ParityTables): Promise<{ key: string; rows: [number, number][] }[]> {
  const out = new Map<string, [number, number][]>();
  for (const nd of T.nodes.slice(T.k)) {
    if (nd.state !== 'ok' || !nd.client) continue;
    let cursor = '0';
    do {
      const [next, keys] = await nd.client.scan(cursor, 'MATCH', `${intentKey(T.prefix, 0).slice(0, -1)}*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const b = await nd.client.getBuffer(key);
        if (!b || out.has(key)) continue;
        const v = new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
        const rows: [number, number][] = [];
        for (let i = 0; i + 1 < v.length; i += 2) rows.push([v[i]! + 1, v[i + 1]!]);
        out.set(key, rows);
      }
    } while (cursor !== '0');
  }
  return [...out].map(([key, rows]) => ({ key, rows }));
}

/** Check every stripe's parity against its data; `repair`: re-encode the stripes named by intents or found wrong. */
export async function scrubTables(T: ParityTables, repair = false): Promise<ScrubReport> {
  const { k, r, rb, bl } = T;
  const buf = new Uint8Array((k + r) * bl);
  const enc = new Uint8Array((k + r) * bl);
  const off = Array.from({ length: k + r }, (_, m) => m * bl);
  const intents = await readIntents(T);
  const fix = new Set<string>();
  for (const it of intents) for (const [t1, row] of it.rows) fix.add(`${t1 - 1}:${Math.floor(Math.floor(row / ROWS_PER_BLOCK) / k)}`);
  const mismatches: ScrubMismatch[] = [];
  let stripes = 0;
  let unchecked = 0;
  for (let t = 0; t < T.spec.sizes.length; t++) {
    for (let s = 0; s < T.map.stripes[t]!; s++) {
      stripes++;
      const known = await T.readStripe(t, s, buf, undefined, true).catch(() => null);
      if (!known || known.some((x) => !x)) {
        unchecked++;
        continue;
      }
      enc.set(buf);
      let bad = false;
      for (let j = 0; j < r; j++) {
        T.code.encodeInto(enc, off, j, bl);
        for (let o = 0; o < ROWS_PER_BLOCK; o++) {
          const a = enc.subarray((k + j) * bl + o * rb, (k + j) * bl + o * rb + rb);
          const b = buf.subarray((k + j) * bl + o * rb, (k + j) * bl + o * rb + rb);
          if (Buffer.compare(a, b) === 0) continue;
          bad = true;
          const rows: number[] = [];
          for (let i = 0; i < k; i++) {
            const row = (s * k + i) * ROWS_PER_BLOCK + o;
            if (row < T.spec.sizes[t]!) rows.push(row);
          }
          mismatches.push({ table: t + 1, stripe: s, offset: o, parityNode: j, rows });
        }
      }
      if (bad) fix.add(`${t}:${s}`);
    }
  }
  let repaired = 0;
  if (repair) {
    for (const ts of fix) {
      const [t, s] = ts.split(':').map(Number) as [number, number];
      const known = await T.readStripe(t, s, buf, undefined, true);
      if (known.some((x, m) => !x && m < k)) throw new PipelineError('unavailable', `cannot repair C${t + 1} stripe ${s}: a data node is down (rebuild it first)`, { field: '--cold-store' });
      for (let j = 0; j < r; j++) {
        const nd = T.nodes[k + j]!;
        if (nd.state !== 'ok') continue;
        T.code.encodeInto(buf, off, j, bl);
        await nd.client!.set(T.pkey(t, s), Buffer.from(buf.subarray((k + j) * bl, (k + j) * bl + bl)));
      }
      repaired++;
    }
    for (const nd of T.nodes.slice(k)) if (nd.state === 'ok' && intents.length > 0) await nd.client!.del(...intents.map((i) => i.key));
  }
  return { stripes, unchecked, mismatches, intents, repaired };
}

export async function storeScrub(spec: string, o: { prefix?: string; out?: string; repair?: boolean }): Promise<ScrubReport & { down: string[]; trainer: string | null }> {
  const T = await connectParity(spec, o.prefix, o.out);
  try {
    const lease = await readLease(T);
    if (lease && o.repair) {
      throw new PipelineError('locked', `a trainer is running on this store (${describeLease(lease)}): --repair would rewrite parity under its updates`, { field: '--repair', hint: 'scrub without --repair (mismatches may then be its updates in flight), or repair once it has stopped' });
    }
    await markStale(T);
    const rep = await scrubTables(T, o.repair);
    return { ...rep, down: T.nodes.filter((nd) => nd.state !== 'ok').map((nd) => T.name(nd.n)), trainer: lease ? describeLease(lease) : null };
  } finally {
    T.close();
  }
}

/** Which node: its index in the address list (0-based, data first) or its host:port. */
export function pickNode(T: ParityTables, node: string): number {
  const i = /^\d+$/.test(node) ? Number(node) : T.nodes.findIndex((nd) => nodeName(nd.addr) === node);
  if (!(i >= 0 && i < T.nodes.length)) throw new PipelineError('bad_config', `--node ${node}: not one of ${T.nodes.map((nd, n) => `${n} (${nodeName(nd.addr)})`).join(', ')}`, { field: '--node' });
  return i;
}

/**
 * Rebuild node `node` onto `to` (default its own address). With a trainer running on the store
 * (its lease, lease.ts) the trainer does it, in the background while it trains: the request is
 * handed to it and its answer awaited. Otherwise offline, here.
 */
export async function storeRebuild(spec: string, o: { prefix?: string; out?: string; node: string; to?: string; note?: (msg: string) => void; timeoutMs?: number }): Promise<{ node: string; to: string; blocks: number; sec: number; by: 'trainer' | 'offline' }> {
  const T = await connectParity(spec, o.prefix, o.out);
  try {
    const n = pickNode(T, o.node);
    const to: NodeAddr = o.to ? hostPort(o.to, '--to') : T.nodes[n]!.addr;
    const clash = T.nodes.find((nd) => nd.n !== n && nodeName(nd.addr) === nodeName(to));
    if (clash) throw new PipelineError('bad_config', `--to ${nodeName(to)} is ${T.name(clash.n)} of this store (rebuilding onto it would wipe it)`, { field: '--to' });
    const t0 = performance.now();
    const lease = await readLease(T);
    if (lease) {
      o.note?.(`store rebuild: a trainer is running on this store (${describeLease(lease)}); it rebuilds by itself while training: asked it to rebuild ${T.name(n)} onto ${nodeName(to)}`);
      const st = await requestRebuild(T, n, to, lease, { timeoutMs: o.timeoutMs, progress: (x) => o.note?.(`store rebuild: trainer: ${x.state}${x.detail ? ` (${x.detail})` : ''}`) });
      if (st) return { node: T.name(n), to: nodeName(to), blocks: T.map.total(n), sec: (performance.now() - t0) / 1000, by: 'trainer' };
      o.note?.('store rebuild: the trainer\'s lease expired before it took the request (it is gone): rebuilding offline');
    }
    await markStale(T);
    if (T.nodes[n]!.state !== 'lost') T.lose(n, new Error('rebuilt on request'));
    const rb = new Rebuilder(T, () => [], () => undefined);
    await rb.start(n, to);
    return { node: T.name(n), to: nodeName(to), blocks: T.map.total(n), sec: (performance.now() - t0) / 1000, by: 'offline' };
  } finally {
    T.close();
  }
}
