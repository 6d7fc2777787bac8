/**
 * A run's tables on the parity store's nodes (layout.ts): node states, meta and fingerprint,
 * seeded bulk init with parity, whole-stripe reads (reconstructing what a lost node held), and
 * the failure rule. Used by the trainer's backend (store.ts), the rebuild (rebuild.ts) and
 * `hotcold store scrub|rebuild` (tools.ts).
 *
 * Node states: `ok`; `lost` (its rows are reconstructed from the others; updates of its rows go
 * to parity only); `rebuilding` with two cursors over the node's blocks: below `live` the node is
 * read and written as usual, between `live` and `marked` it receives updates as XOR deltas onto
 * the value the rebuild writes, at and above `marked` it is still lost.
 */
import type { Redis } from 'ioredis';
import { PipelineError, mismatch } from '../../../../pipeline/errors.js';
import type { Rng } from '../../../../pipeline/rng.js';
import { fillUniform, type SparseOptConfig } from '../../model/embedding.js';
import { KeyCache } from '../batch-rows.js';
import { ROWS_PER_BLOCK, rowBytes } from '../layout.js';
import { StripeCode } from './codec.js';
import {
  dataKey, parityKey, pmetaKey, psentinelKey, PARITY_LAYOUT, StripeMap, type NodeAddr, type ParityAddress, type ParityMeta,
} from './layout.js';
import { connectNode, errMsg, isNodeLoss, nodeName, unreachable } from './nodes.js';
import type { StoreCounters } from '../redis-tables.js';

export interface ParitySpec {
  fingerprint: string;
  dim: number;
  opt: SparseOptConfig;
  sizes: number[];
}

export type NodeStateName = 'ok' | 'lost' | 'rebuilding';

export interface NodeState {
  /** 0…k−1 data, k…k+r−1 parity */
  n: number;
  addr: NodeAddr;
  client: Redis | null;
  state: NodeStateName;
  marked: number;
  live: number;
  /** why it was lost (the first error) */
  why?: string;
}

/** The redis store's traffic counters, plus what degraded operation did. */
export interface ParityCounters extends StoreCounters {
  /** rows reconstructed from parity (degraded reads) */
  rowsReconstructed: number;
  /** rows whose update went to parity only (their node lost) */
  rowsParityOnly: number;
}

/** Commands outstanding at most in bulk loops. */
const WINDOW = 128;

export class ParityTables {
  readonly nodes: NodeState[];
  readonly map: StripeMap;
  readonly code: StripeCode;
  readonly nf: number;
  readonly rb: number;
  /** bytes of a full block */
  readonly bl: number;
  readonly k: number;
  readonly r: number;
  readonly counters: ParityCounters = { roundTrips: 0, rowsRead: 0, rowsWritten: 0, bytesRead: 0, bytesWritten: 0, conflicts: 0, rowsReconstructed: 0, rowsParityOnly: 0 };
  /** called once per node loss (the store logs it and may start a rebuild) */
  onLoss?: (n: NodeState) => void;
  /** the sentinel key (the same on every node) */
  readonly sentinel: string;
  /** key cache of the batch planner (BatchRows.plan groups by the redis backend's shards too) */
  readonly keysCache: KeyCache;
  private readonly dkeys: string[][];
  private readonly pkeys: string[][];

  constructor(readonly addr: ParityAddress, readonly prefix: string, readonly spec: ParitySpec) {
    this.k = addr.k;
    this.r = addr.r;
    this.nodes = addr.nodes.map((a, n) => ({ n, addr: a, client: null, state: 'ok', marked: 0, live: 0 }));
    this.map = new StripeMap(this.k, this.r, spec.sizes);
    this.code = new StripeCode(this.k, this.r);
    this.nf = spec.dim + (spec.opt.kind === 'adagrad' ? 1 : 0);
    this.rb = rowBytes(spec.dim, spec.opt.kind === 'adagrad');
    this.bl = ROWS_PER_BLOCK * this.rb;
    this.dkeys = spec.sizes.map(() => []);
    this.sentinel = psentinelKey(prefix);
    this.keysCache = new KeyCache(prefix, spec.sizes.length);
    this.pkeys = spec.sizes.map(() => []);
  }

  role(n: number): string {
    return n < this.k ? `data node ${n}` : `parity node ${n - this.k}`;
  }

  name(n: number): string {
    return `${this.role(n)} (${nodeName(this.nodes[n]!.addr)})`;
  }

  dkey(t: number, blk: number): string {
    return (this.dkeys[t]![blk] ??= dataKey(this.prefix, t, blk));
  }

  pkey(t: number, s: number): string {
    return (this.pkeys[t]![s] ??= parityKey(this.prefix, t, s));
  }

  /** Connect every node (all must answer at start). */
  async connect(opts: { allowDown?: boolean } = {}): Promise<void> {
    await Promise.all(this.nodes.map(async (nd) => {
      try {
        nd.client = await connectNode(nd.addr);
      } catch (e) {
        if (!opts.allowDown) throw unreachable(nd.addr, this.role(nd.n), e);
        nd.state = 'lost';
        nd.why = errMsg(e);
      }
    }));
    if (opts.allowDown) this.checkRedundancy();
  }

  close(): void {
    for (const nd of this.nodes) {
      nd.client?.disconnect();
      nd.client = null;
    }
  }

  /** Is block position pos of node n readable there? */
  readable(n: number, pos: number): boolean {
    const nd = this.nodes[n]!;
    return nd.state === 'ok' || (nd.state === 'rebuilding' && pos < nd.live);
  }

  /** How an update of block position pos of node n reaches it. */
  writeKind(n: number, pos: number): 'normal' | 'xor' | 'none' {
    const nd = this.nodes[n]!;
    if (nd.state === 'ok' || (nd.state === 'rebuilding' && pos < nd.live)) return 'normal';
    if (nd.state === 'rebuilding' && pos < nd.marked) return 'xor';
    return 'none';
  }

  /** Mark node n lost (first time only) and stop when redundancy is exceeded. */
  lose(n: number, e: unknown): void {
    const nd = this.nodes[n]!;
    if (nd.state === 'lost') return;
    nd.state = 'lost';
    nd.why = errMsg(e);
    nd.marked = nd.live = 0;
    const c = nd.client;
    nd.client = null;
    c?.disconnect();
    this.checkRedundancy();
    this.onLoss?.(nd);
  }

  /**
   * Stripes with more unreadable members than r are lost: a clear stop naming them (per table,
   * as stripe ranges and their rows), never a guess.
   */
  checkRedundancy(): void {
    const down = this.nodes.filter((nd) => nd.state !== 'ok');
    if (down.length <= this.r) return;
    const lostBy: string[] = [];
    let total = 0;
    for (let t = 0; t < this.spec.sizes.length; t++) {
      let runStart = -1;
      const flush = (end: number): void => {
        if (runStart < 0) return;
        const rows = `rows ${runStart * this.k * ROWS_PER_BLOCK}–${Math.min(this.spec.sizes[t]!, end * this.k * ROWS_PER_BLOCK) - 1}`;
        lostBy.push(`C${t + 1} stripes ${runStart}–${end - 1} (${rows})`);
        runStart = -1;
      };
      for (let s = 0; s < this.map.stripes[t]!; s++) {
        let bad = 0;
        for (let i = 0; i < this.k; i++) {
          const blk = s * this.k + i;
          if (blk < this.map.blocks[t]! && !this.readable(i, this.map.dataPos(t, blk))) bad++;
        }
        for (let j = 0; j < this.r; j++) if (!this.readable(this.k + j, this.map.parityPos(t, s))) bad++;
        if (bad > this.r) {
          total++;
          if (runStart < 0) runStart = s;
        } else flush(s);
      }
      flush(this.map.stripes[t]!);
    }
    if (total === 0) return;
    const shown = lostBy.length > 8 ? [...lostBy.slice(0, 8), `… ${lostBy.length - 8} more ranges`] : lostBy;
    throw new PipelineError('unavailable', `the parity cold store lost ${down.length} nodes (${down.map((nd) => `${this.name(nd.n)}: ${nd.why ?? nd.state}`).join('; ')}), more than parity=${this.r} covers: ${total} stripes are unrecoverable: ${shown.join(', ')}; stopped, the last committed checkpoint is intact`, {
      field: '--cold-store', hint: 'bring the nodes back (or give new ones), then rerun the same command with --resume: training continues from the last committed checkpoint and the store is rewritten from it',
    });
  }

  private metaOf(n: number, complete: boolean): string {
    const s = this.spec;
    const m: ParityMeta = {
      magic: 'hotcold.parity', layout: PARITY_LAYOUT, fingerprint: s.fingerprint, dim: s.dim, optimizer: s.opt.kind, sizes: s.sizes,
      k: this.k, r: this.r, role: n < this.k ? 'data' : 'parity', index: n < this.k ? n : n - this.k, complete,
    };
    return JSON.stringify(m);
  }

  /** The meta of node n, or null (no store there). */
  async readMeta(n: number): Promise<ParityMeta | null> {
    const raw = await this.nodes[n]!.client!.get(pmetaKey(this.prefix));
    if (raw === null) return null;
    try {
      const m = JSON.parse(raw) as ParityMeta;
      if (m.magic !== 'hotcold.parity') throw new Error('bad magic');
      return m;
    } catch {
      throw new PipelineError('bad_manifest', `${pmetaKey(this.prefix)} on ${this.name(n)} is not a hotcold parity meta key`, { field: '--cold-store', hint: 'use another key prefix (?prefix=…)' });
    }
  }

  /** Refuse nodes holding another run's tables, or listed in another order / code. */
  async check(): Promise<void> {
    const where = `the parity cold store ${this.addr.spec} (prefix '${this.prefix}')`;
    for (const nd of this.nodes) {
      if (nd.state !== 'ok') continue;
      const m = await this.readMeta(nd.n);
      if (!m) continue;
      const s = this.spec;
      const want = this.metaOf(nd.n, m.complete);
      if (want === JSON.stringify(m)) continue;
      const hint = `use another prefix (?prefix=…) or delete that prefix's keys on ${nodeName(nd.addr)}`;
      if (m.k !== this.k || m.r !== this.r || m.role !== (nd.n < this.k ? 'data' : 'parity') || m.index !== (nd.n < this.k ? nd.n : nd.n - this.k)) {
        throw mismatch(`${where}: ${nodeName(nd.addr)} is ${m.role} node ${m.index} of a data=${m.k}&parity=${m.r} store, listed here as ${this.role(nd.n)} of data=${this.k}&parity=${this.r}`, 'list the nodes in their order: data nodes first, then parity');
      }
      if (m.dim !== s.dim || m.optimizer !== s.opt.kind || m.sizes.join() !== s.sizes.join()) throw mismatch(`${where}: ${nodeName(nd.addr)} holds tables of dim ${m.dim} (${m.optimizer}), other sizes or layout; this run has dim ${s.dim} (${s.opt.kind})`, hint);
      throw mismatch(`${where}: ${nodeName(nd.addr)} holds another run's tables (fingerprint ${m.fingerprint}, this run ${s.fingerprint})`, hint);
    }
  }

  /**
   * Write every row (and its parity): `fill(t, r0, n, out)` writes rows [r0, r0 + n) of table t
   * (nf floats each), r0 a multiple of k·32 (whole stripes). Meta incomplete first, then the
   * sentinels, the blocks, meta complete.
   */
  async writeAll(fill: (t: number, r0: number, n: number, out: Float32Array) => void, only?: number): Promise<void> {
    const k = this.k;
    const SR = k * ROWS_PER_BLOCK;
    const CH = 16 * SR;
    const buf = new Float32Array(CH * this.nf);
    const bytes = new Uint8Array(buf.buffer);
    const stripe = new Uint8Array((k + this.r) * this.bl);
    const off = Array.from({ length: k + this.r }, (_, m) => m * this.bl);
    const targets = this.nodes.filter((nd) => nd.state === 'ok' && (only === undefined || nd.n === only));
    const pending: Promise<unknown>[] = [];
    const send = async (n: number, p: () => Promise<unknown>): Promise<void> => {
      this.counters.roundTrips++;
      pending.push(p().catch((e: unknown) => {
        if (isNodeLoss(e)) this.lose(n, e);
        else throw e;
      }));
      if (pending.length >= WINDOW) {
        await Promise.all(pending);
        pending.length = 0;
      }
    };
    const live = (n: number): Redis | null => (targets.some((nd) => nd.n === n) ? this.nodes[n]!.client : null);
    for (const nd of targets) await send(nd.n, () => nd.client!.set(pmetaKey(this.prefix), this.metaOf(nd.n, false)));
    for (const nd of targets) await send(nd.n, () => nd.client!.set(psentinelKey(this.prefix), this.spec.fingerprint));
    for (let t = 0; t < this.spec.sizes.length; t++) {
      const rows = this.spec.sizes[t]!;
      for (let r0 = 0; r0 < rows; r0 += CH) {
        const n = Math.min(CH, rows - r0);
        buf.fill(0);
        fill(t, r0, n, buf);
        for (let s0 = 0; s0 < n; s0 += SR) {
          const s = (r0 + s0) / SR;
          stripe.fill(0);
          for (let i = 0; i < k; i++) {
            const blk = s * k + i;
            const nr = this.map.blockRows(t, blk);
            if (nr === 0) continue;
            const src = (s0 + i * ROWS_PER_BLOCK) * this.rb;
            stripe.set(bytes.subarray(src, src + nr * this.rb), off[i]!);
            const c = live(i);
            if (c) {
              const b = Buffer.from(bytes.subarray(src, src + nr * this.rb));
              this.counters.rowsWritten += nr;
              this.counters.bytesWritten += b.length;
              await send(i, () => c.set(this.dkey(t, blk), b));
            }
          }
          for (let j = 0; j < this.r; j++) {
            const c = live(k + j);
            if (!c) continue;
            this.code.encodeInto(stripe, off, j, this.bl);
            const b = Buffer.from(stripe.subarray(off[k + j]!, off[k + j]! + this.bl));
            this.counters.bytesWritten += b.length;
            await send(k + j, () => c.set(this.pkey(t, s), b));
          }
        }
      }
    }
    await Promise.all(pending);
    pending.length = 0;
    for (const nd of targets) if (nd.state === 'ok') await send(nd.n, () => nd.client!.set(pmetaKey(this.prefix), this.metaOf(nd.n, true)));
    await Promise.all(pending);
  }

  /** Seeded init: the memory backend's values (as RedisTables.init), with their parity. */
  async init(rng: Rng, onRows?: (t: number, r0: number, n: number, vals: Float32Array) => void): Promise<void> {
    const d = this.spec.dim;
    const nf = this.nf;
    const a0 = this.spec.opt.initAccum ?? 0;
    let state = new Int32Array(4);
    let bound = 0;
    let w = new Float32Array(0);
    await this.writeAll((t, r0, n, out) => {
      if (r0 === 0) {
        state = new Int32Array([rng.nextU32(), rng.nextU32(), rng.nextU32(), rng.nextU32()]);
        if ((state[0]! | state[1]! | state[2]! | state[3]!) === 0) state[0] = 1;
        bound = Math.sqrt(1 / this.spec.sizes[t]!);
      }
      if (w.length < n * d) w = new Float32Array(n * d);
      fillUniform(w, 0, n * d, state, bound);
      for (let i = 0; i < n; i++) {
        out.set(w.subarray(i * d, i * d + d), i * nf);
        if (nf > d) out[i * nf + d] = a0;
      }
      onRows?.(t, r0, n, out);
    });
  }

  /**
   * Read stripe s of table t whole into buf (member m at m·bl; blocks past the table's end and
   * rows past it are zeros), reconstructing members on lost nodes. `patch` runs synchronously
   * once the reads are sent (before any other update can be issued) and may overwrite known data
   * rows with values the reads could miss (updates in flight).
   * @returns the members that were read (the others were reconstructed)
   */
  async readStripe(t: number, s: number, buf: Uint8Array, patch?: (known: boolean[]) => [number, Uint8Array][], once = false): Promise<boolean[]> {
    const k = this.k;
    for (;;) {
      buf.fill(0);
      const known: boolean[] = [];
      const reads: Promise<void>[] = [];
      for (let m = 0; m < k + this.r; m++) {
        const isData = m < k;
        const blk = s * k + m;
        const nr = isData ? this.map.blockRows(t, blk) : ROWS_PER_BLOCK;
        if (isData && nr === 0) {
          known.push(true);
          continue;
        }
        const pos = isData ? this.map.dataPos(t, blk) : this.map.parityPos(t, s);
        if (!this.readable(m, pos)) {
          known.push(false);
          continue;
        }
        known.push(true);
        const key = isData ? this.dkey(t, blk) : this.pkey(t, s);
        this.counters.roundTrips++;
        reads.push(this.nodes[m]!.client!.getBuffer(key).then((b) => {
          if (b === null) throw new Error(`HCLOST ${key} is missing`);
          this.counters.bytesRead += b.length;
          buf.set(b.subarray(0, Math.min(b.length, nr * this.rb)), m * this.bl);
        }).catch((e: unknown) => {
          throw Object.assign(new Error(errMsg(e)), { node: m });
        }));
      }
      const patches = patch?.(known) ?? [];
      const res = await Promise.allSettled(reads);
      const bad = res.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (bad) {
        const e = bad.reason as Error & { node?: number };
        if (once || !isNodeLoss(e)) throw e;
        this.lose(e.node!, e);
        continue;
      }
      for (const [o, bytes] of patches) buf.set(bytes, o);
      const off = Array.from({ length: k + this.r }, (_, m) => m * this.bl);
      if (!this.code.solve(buf, off, known, this.bl)) this.checkRedundancy();
      return known;
    }
  }

  /**
   * Read many stripes at once (the rebuild's chunk): stripe x = list[x] into buf at x·(k + r)·bl,
   * as {@link readStripe} does one, but with one MGET per node for all of them (the blocks of
   * member `skip` are not read: it is the one being rebuilt, reconstructed like a lost one).
   * The MGETs go out synchronously on the nodes' connections, then `patch` runs (same instant);
   * its [stripe, byte offset in the stripe, bytes] are written over the reads before solving.
   * A read error (tagged with its node) rejects; nothing is retried.
   */
  async readStripes(list: { t: number; s: number }[], buf: Uint8Array, skip: number, patch?: () => [number, number, Uint8Array][]): Promise<void> {
    const { k, r, bl, rb } = this;
    const W = (k + r) * bl;
    buf.fill(0, 0, list.length * W);
    const known = list.map(() => new Array<boolean>(k + r).fill(true));
    const reads: Promise<void>[] = [];
    for (let m = 0; m < k + r; m++) {
      const keys: string[] = [];
      const where: number[] = [];
      const lens: number[] = [];
      for (let x = 0; x < list.length; x++) {
        const { t, s } = list[x]!;
        const isData = m < k;
        const blk = s * k + m;
        const nr = isData ? this.map.blockRows(t, blk) : ROWS_PER_BLOCK;
        if (isData && nr === 0) continue; // past the table's end: zeros, known
        if (m === skip || !this.readable(m, isData ? this.map.dataPos(t, blk) : this.map.parityPos(t, s))) {
          known[x]![m] = false;
          continue;
        }
        keys.push(isData ? this.dkey(t, blk) : this.pkey(t, s));
        where.push(x * W + m * bl);
        lens.push(nr * rb);
      }
      if (keys.length === 0) continue;
      this.counters.roundTrips++;
      reads.push(this.nodes[m]!.client!.mgetBuffer(...keys).then((vals) => {
        for (let i = 0; i < vals.length; i++) {
          const b = vals[i];
          if (!b) throw new Error(`HCLOST ${keys[i]} is missing`);
          this.counters.bytesRead += b.length;
          buf.set(b.subarray(0, Math.min(b.length, lens[i]!)), where[i]!);
        }
      }).catch((e: unknown) => {
        throw Object.assign(new Error(errMsg(e)), { node: m });
      }));
    }
    const patches = patch?.() ?? [];
    const res = await Promise.allSettled(reads);
    const bad = res.find((x): x is PromiseRejectedResult => x.status === 'rejected');
    if (bad) throw bad.reason;
    for (const [x, o, bytes] of patches) buf.set(bytes, x * W + o);
    const off = new Array<number>(k + r);
    for (let x = 0; x < list.length; x++) {
      for (let m = 0; m < k + r; m++) off[m] = x * W + m * bl;
      if (!this.code.solve(buf, off, known[x]!, bl)) {
        this.checkRedundancy();
        throw new PipelineError('internal', `parity store: C${list[x]!.t + 1} stripe ${list[x]!.s} could not be solved although redundancy holds`);
      }
    }
  }

  /** Every row of every table (reconstructed where a node is lost): take(t, r0, n, vals). */
  async readAll(take: (t: number, r0: number, n: number, vals: Float32Array) => void): Promise<void> {
    const k = this.k;
    const buf = new Uint8Array((k + this.r) * this.bl);
    const vals = new Float32Array(ROWS_PER_BLOCK * this.nf);
    const vb = new Uint8Array(vals.buffer);
    for (let t = 0; t < this.spec.sizes.length; t++) {
      for (let s = 0; s < this.map.stripes[t]!; s++) {
        await this.readStripe(t, s, buf);
        for (let i = 0; i < k; i++) {
          const blk = s * k + i;
          const nr = this.map.blockRows(t, blk);
          if (nr === 0) continue;
          vb.set(buf.subarray(i * this.bl, i * this.bl + nr * this.rb));
          this.counters.rowsRead += nr;
          take(t, blk * ROWS_PER_BLOCK, nr, vals);
        }
      }
    }
  }
}
