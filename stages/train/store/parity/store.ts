/**
 * The parity backend of the cold store (ECRec on Redis): rows striped over k data nodes, r
 * parity nodes holding the GF(2^8) code of the stripes (tables.ts, codec.ts). One writer (the
 * trainer); the batch protocol is the redis backend's (prefetch one batch ahead, updates not
 * awaited, at most maxInFlight outstanding), with these changes:
 *
 *  - An update is **parity first**: per parity node one hp_xor call applies the batch's deltas
 *    (old ⊕ new bytes, times the node's coefficient) and records the batch's intent (its
 *    (table, row) list under `<prefix>:intent:<seq>`) atomically; only once every parity node
 *    answered are the data rows written (hp_cas: set to the new bytes if they still hold the old
 *    ones). Data writes go out in batch order. The intent key is deleted with the next batch's
 *    parity call (or at the barrier). So at any instant each stripe's parity either matches its
 *    data, or the stripe has a row named by an intent on a parity node: a trainer that dies
 *    mid-update leaves intents that `hotcold store scrub --repair` (tools.ts) resolves by
 *    re-encoding those stripes from the data. A data node lost mid-update loses nothing: its
 *    rows' parity already holds the update.
 *  - Reads can miss data writes still held back behind their parity: rows of updates in flight
 *    are taken from the trainer's own copy of those batches (snapshotted when the reads are sent),
 *    and rows of the batch just updated from it (as in the redis backend).
 *  - **Degraded mode**: a node whose connection fails is lost at once. A lost data row is read
 *    as the k − 1 other rows of its stripe (same offset) and the parity rows, and solved for;
 *    its updates go to parity only. The reads of a stripe are consistent with each other because
 *    a parity node's connection carries every parity update issued before the read, and the data
 *    rows whose writes may lag are taken from the in-flight snapshot.
 *  - **Rebuild** (rebuild.ts): onto a spare (`spare=`) at once, or onto the lost node's address
 *    once it answers again (probed every second), in the background while training continues.
 *  - More nodes lost than r covers: a clear stop naming the lost stripes (tables.ts).
 */
import type { Rng } from '../../../../pipeline/rng.js';
import { PipelineError } from '../../../../pipeline/errors.js';
import { NUM_TABLES } from '../../data/batch.js';
import type { Device } from '../../device.js';
import type { SparseOptConfig } from '../../model/embedding.js';
import { BatchRows } from '../batch-rows.js';
import { MAX_KEYS } from '../functions.js';
import { ROWS_PER_BLOCK } from '../layout.js';
import { PrefetchStream } from '../prefetch.js';
import type { ParityStoreReport } from '../../../../pipeline/run-metrics.js';
import type { BatchSource, ColdStore, EvalGather, StoreReport } from '../types.js';
import { parityDeltaCalls, type BlockDeltaCall } from './deltas.js';
import { FN_PBXOR, FN_PCAS, FN_PREAD, FN_PXOR } from './functions.js';
import { intentKey, scratchKey, type NodeAddr, type ParityAddress } from './layout.js';
import { connectNode, errMsg, isNodeLoss, nodeName } from './nodes.js';
import { describeLease, foreignLease, LEASE_MS, readLease, TrainerLease, type RebuildRequest } from './lease.js';
import { Rebuilder } from './rebuild.js';
import { ParityTables } from './tables.js';

export interface ParityStoreOptions {
  address: ParityAddress;
  prefix: string;
  fingerprint: string;
  sizes: number[];
  dim: number;
  opt: SparseOptConfig;
  batchSize: number;
  /** @default 4 */
  maxInFlight?: number;
  /** rebuild a lost node automatically (onto a spare, or onto its address once it answers). @default true */
  autoRebuild?: boolean;
  log?: (msg: string) => void;
}

/** One node's request of a batch: keys (sentinel first), (key index, row) pairs, and where each row goes. */
class NodeReq {
  keys: string[];
  private readonly idx = new Map<string, number>();
  pairs: number[] = [];
  /** read: ≥ 0 unique row, < 0 helper slot −1 − s; write: unique row */
  dest: number[] = [];
  constructor(readonly node: number, sentinel: string) {
    this.keys = [sentinel];
  }
  full(key: string): boolean {
    return !this.idx.has(key) && this.keys.length >= MAX_KEYS;
  }
  add(key: string, row: number, dest: number): void {
    let i = this.idx.get(key);
    if (i === undefined) {
      this.keys.push(key);
      i = this.keys.length;
      this.idx.set(key, i);
    }
    this.pairs.push(i, row);
    this.dest.push(dest);
  }
  pairBuf(): Buffer {
    return Buffer.from(Int32Array.from(this.pairs).buffer);
  }
}

/** Requests per node, split at MAX_KEYS keys. */
class Requests {
  readonly all: NodeReq[] = [];
  private readonly open = new Map<number, NodeReq>();
  constructor(private readonly sentinel: string) {}
  add(node: number, key: string, row: number, dest: number): void {
    let q = this.open.get(node);
    if (!q || q.full(key)) {
      q = new NodeReq(node, this.sentinel);
      this.open.set(node, q);
      this.all.push(q);
    }
    q.add(key, row, dest);
  }
}

interface Decode {
  u: number;
  /** the lost member (data node index) */
  member: number;
  /** helper slots: base + m for member m */
  base: number;
  known: boolean[];
}

/** A batch in the store: its rows, and the helper rows of its degraded reads. */
class PBatch {
  rows: BatchRows;
  seq = 0;
  pending: Promise<void> | null = null;
  help = new Uint8Array(0);
  decodes: Decode[] = [];
  constructor(dim: number) {
    this.rows = new BatchRows(dim, NUM_TABLES);
  }
}

export class ParityColdStore implements ColdStore {
  readonly kind = 'redis' as const;
  readonly t: ParityTables;
  private readonly pool: PBatch[] = [];
  private readonly queue: PBatch[] = [];
  private cur: PBatch | null = null;
  private prev: PBatch | null = null;
  /** batches whose update is not settled (parity and data answered), oldest first */
  private readonly flying: PBatch[] = [];
  private readonly inflight: Promise<void>[] = [];
  private lastSent: Promise<void> = Promise.resolve();
  private seq = 0;
  /** intent keys of settled batches, deleted with the next parity call */
  private done: string[] = [];
  /** per node: incarnation (a write planned under another one is dropped) */
  private readonly epoch: number[];
  failure: unknown = null;
  /** tests: stop the next update after this phase (one parity node / all parity / one data node written), as a trainer dying there */
  faultAfter: 'intent-partial' | 'parity' | 'data-partial' | null = null;
  private waitSec = 0;
  private initSec = 0;
  private lookups = 0;
  private lookupsHot = 0;
  private readonly maxInFlight: number;
  private materialized = false;
  private readonly evalBatch: PBatch;
  private ckBatch: PBatch | null = null;
  readonly rebuilder: Rebuilder;
  private readonly spares: NodeAddr[];
  private lastProbe = 0;
  private probing = false;
  /** events for the bench and tests: node lost / rebuild started / full redundancy again, at performance.now() ms */
  readonly events: { at: number; what: 'lost' | 'rebuild' | 'redundant'; node: number; detail: string }[] = [];
  private readonly delta: Uint8Array[] = [];
  /** between the first ready() and a bulk write / close: a loss starts a rebuild at once */
  private training = false;
  /** the store's trainer lease, and rebuild requests from `hotcold store rebuild` (lease.ts) */
  private readonly lease: TrainerLease;

  constructor(private readonly device: Device, private readonly o: ParityStoreOptions) {
    this.t = new ParityTables(o.address, o.prefix, { fingerprint: o.fingerprint, dim: o.dim, opt: o.opt, sizes: o.sizes });
    this.maxInFlight = Math.max(1, o.maxInFlight ?? 4);
    this.evalBatch = new PBatch(o.dim);
    this.epoch = this.t.nodes.map(() => 0);
    this.spares = [...o.address.spares];
    this.rebuilder = new Rebuilder(this.t, () => this.flying.map((b) => b.rows), (msg) => o.log?.(msg), { rate: o.address.rebuildRate });
    this.t.onLoss = (nd) => {
      this.epoch[nd.n]!++;
      this.events.push({ at: performance.now(), what: 'lost', node: nd.n, detail: nd.why ?? '' });
      o.log?.(`train: parity cold store: ${this.t.name(nd.n)} lost (${nd.why}); its rows are reconstructed from parity, training continues`);
      this.rebuilder.abortIf(nd.n);
      // a spare (or the probe) takes over at once, not at the next batch (which waits for this one's degraded reads)
      if (this.training) setImmediate(() => { if (this.training && !this.failure) this.maybeRebuild(); });
    };
    this.lease = new TrainerLease(this.t, (q) => this.onRequest(q), () => this.training && !this.failure);
    this.rebuilder.onDone = (n, sec) => {
      this.events.push({ at: performance.now(), what: 'redundant', node: n, detail: `${sec.toFixed(2)}s` });
    };
  }

  /** Nodes not fully redundant right now (lost or rebuilding). */
  degraded(): number[] {
    return this.t.nodes.filter((nd) => nd.state !== 'ok').map((nd) => nd.n);
  }

  async open(rng: Rng): Promise<void> {
    const o = this.o;
    await this.t.connect();
    await this.t.check();
    const other = await readLease(this.t);
    if (other && foreignLease(other)) {
      throw new PipelineError('locked', `another trainer is running on the parity cold store ${o.address.spec} (prefix '${o.prefix}'): ${describeLease(other)}`, {
        field: '--cold-store', hint: `one trainer per store: stop it, or use another prefix (?prefix=…); a trainer killed on another host holds it for ${LEASE_MS / 1000}s more`,
      });
    }
    this.lease.start();
    const t0 = performance.now();
    const dev = this.device;
    const rev = dev.reverse;
    const d = o.dim;
    const nf = this.t.nf;
    await this.t.init(rng, (t, r0, n, vals) => {
      if (!rev) return;
      const rv = rev[t]!;
      const tab = dev.tables[t]!;
      for (let i = 0; i < n; i++) {
        if (rv[r0 + i]! < 0) continue;
        tab.weights.set(vals.subarray(i * nf, i * nf + d), (r0 + i) * d);
        if (tab.accum) tab.accum[r0 + i] = vals[i * nf + d]!;
      }
    });
    dev.loadHot(true);
    this.initSec += (performance.now() - t0) / 1000;
    o.log?.(`train: cold store parity ${o.address.spec} (data=${this.t.k}, parity=${this.t.r}, prefix '${o.prefix}'): ${o.sizes.reduce((a, b) => a + b, 0)} rows initialised in ${this.initSec.toFixed(1)}s`);
  }

  wrap(stream: BatchSource): BatchSource {
    return new PrefetchStream(stream, this.o.batchSize, (cats, B) => this.prefetch(cats, B), () => { this.queue.length = 0; });
  }

  private take(): PBatch {
    const busy = (b: PBatch): boolean => b === this.cur || b === this.prev || this.queue.includes(b) || this.flying.includes(b);
    let b = this.pool.find((x) => !busy(x));
    if (!b) {
      b = new PBatch(this.o.dim);
      this.pool.push(b);
    }
    return b;
  }

  /** The newest in-flight value of cold row (t, row): its batch and unique index, or null. */
  latest(t: number, row: number): { rows: BatchRows; u: number } | null {
    for (let i = this.flying.length - 1; i >= 0; i--) {
      const rows = this.flying[i]!.rows;
      const u = rows.find(t, row);
      if (u >= 0 && rows.uHot[u]! < 0) return { rows, u };
    }
    return null;
  }

  private prefetch(cats: Int32Array, B: number): void {
    const b = this.take();
    b.rows.plan(cats, B, this.device.reverse, this.o.sizes, this.t.keysCache);
    b.pending = this.fetch(b);
    b.pending.catch(() => undefined); // awaited in ready()
    this.queue.push(b);
  }

  /** Bytes of vals row u. */
  private rowBytesOf(rows: BatchRows, u: number): Uint8Array {
    return new Uint8Array(rows.vals.buffer, rows.vals.byteOffset + u * rows.stride * 4, this.t.rb);
  }

  /**
   * Send a batch's reads (degraded where a node is lost) and fill its vals; a node lost on the
   * way is marked so and the reads are planned again.
   */
  private async fetch(b: PBatch): Promise<void> {
    for (;;) {
      const sent = this.sendReads(b);
      const res = await Promise.allSettled(sent.map(async ({ q, p }) => this.fillReply(b, q, await p)));
      const bad = res.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (bad) {
        const e = bad.reason as Error & { node?: number };
        if (e.node === undefined || !isNodeLoss(e)) throw this.fatal('reading cold rows', e);
        this.t.lose(e.node, e);
        continue;
      }
      this.solveDecodes(b);
      return;
    }
  }

  private sendReads(b: PBatch): { q: NodeReq; p: Promise<Buffer> }[] {
    const T = this.t;
    const { k, r, rb } = T;
    const rows = b.rows;
    const reqs = new Requests(T.sentinel);
    b.decodes = [];
    let nHelp = 0;
    const copyLatest = (t: number, row: number, dst: Uint8Array, d0: number): boolean => {
      const l = this.latest(t, row);
      if (!l) return false;
      dst.set(this.rowBytesOf(l.rows, l.u), d0);
      return true;
    };
    const vb = new Uint8Array(rows.vals.buffer, rows.vals.byteOffset, rows.vals.byteLength);
    // first pass: count the lost rows (helper buffer size)
    for (let u = 0; u < rows.U; u++) {
      if (rows.uHot[u]! >= 0) continue;
      const blk = (rows.uR[u]! / ROWS_PER_BLOCK) | 0;
      if (!T.readable(blk % k, T.map.dataPos(rows.uT[u]!, blk))) nHelp += k + r;
    }
    if (b.help.length < nHelp * rb) b.help = new Uint8Array(nHelp * rb);
    b.help.fill(0, 0, nHelp * rb);
    nHelp = 0;
    for (let u = 0; u < rows.U; u++) {
      if (rows.uHot[u]! >= 0) continue;
      const t = rows.uT[u]!;
      const row = rows.uR[u]!;
      if (copyLatest(t, row, vb, u * rows.stride * 4)) continue;
      const blk = (row / ROWS_PER_BLOCK) | 0;
      const i = blk % k;
      const off = row - blk * ROWS_PER_BLOCK;
      if (T.readable(i, T.map.dataPos(t, blk))) {
        reqs.add(i, T.dkey(t, blk), off, u);
        continue;
      }
      const s = (blk / k) | 0;
      const base = nHelp;
      nHelp += k + r;
      const known: boolean[] = [];
      for (let m = 0; m < k + r; m++) {
        if (m === i) { known.push(false); continue; }
        if (m < k) {
          const blk2 = s * k + m;
          const row2 = blk2 * ROWS_PER_BLOCK + off;
          if (row2 >= this.o.sizes[t]!) { known.push(true); continue; } // zeros
          if (copyLatest(t, row2, b.help, (base + m) * rb)) { known.push(true); continue; }
          if (T.readable(m, T.map.dataPos(t, blk2))) { reqs.add(m, T.dkey(t, blk2), off, -1 - (base + m)); known.push(true); continue; }
          known.push(false);
        } else if (T.readable(m, T.map.parityPos(t, s))) {
          reqs.add(m, T.pkey(t, s), off, -1 - (base + m));
          known.push(true);
        } else known.push(false);
      }
      b.decodes.push({ u, member: i, base, known });
    }
    return reqs.all.map((q) => {
      const c = T.nodes[q.node]!.client!;
      T.counters.roundTrips++;
      const pc = c as unknown as { fcallBuffer(...a: (string | number | Buffer)[]): Promise<Buffer> };
      const p = pc.fcallBuffer(FN_PREAD, q.keys.length, ...q.keys, this.o.fingerprint, rb, q.pairBuf()).catch((e: unknown) => {
        throw Object.assign(new Error(errMsg(e)), { node: q.node });
      });
      return { q, p };
    });
  }

  private fillReply(b: PBatch, q: NodeReq, reply: Buffer): void {
    const rb = this.t.rb;
    const n = q.dest.length;
    if (reply.length !== n * rb) throw new PipelineError('internal', `parity store reply of ${reply.length} bytes for ${n} rows of ${rb} bytes`);
    const rows = b.rows;
    const vb = new Uint8Array(rows.vals.buffer, rows.vals.byteOffset, rows.vals.byteLength);
    const sb = rows.stride * 4;
    for (let i = 0; i < n; i++) {
      const d = q.dest[i]!;
      const src = reply.subarray(i * rb, i * rb + rb);
      if (d >= 0) vb.set(src, d * sb);
      else b.help.set(src, (-1 - d) * rb);
    }
    this.t.counters.rowsRead += n;
    this.t.counters.bytesRead += reply.length;
  }

  private solveDecodes(b: PBatch): void {
    const T = this.t;
    const { k, r, rb } = T;
    const off = new Array<number>(k + r);
    for (const d of b.decodes) {
      for (let m = 0; m < k + r; m++) off[m] = (d.base + m) * rb;
      if (!T.code.solve(b.help, off, d.known, rb)) {
        T.checkRedundancy();
        throw new PipelineError('internal', 'parity store: a stripe could not be solved although redundancy holds');
      }
      this.rowBytesOf(b.rows, d.u).set(b.help.subarray(off[d.member]!, off[d.member]! + rb));
      T.counters.rowsReconstructed++;
    }
  }

  private fatal(what: string, e: unknown): PipelineError {
    if (e instanceof PipelineError) return e;
    return new PipelineError('unavailable', `the parity cold store ${this.o.address.spec} failed while ${what}: ${errMsg(e)}`, {
      field: '--cold-store', hint: 'rerun the same command with --resume: training continues from the last committed checkpoint', cause: e,
    });
  }

  /** A node's error on a write: lost (maybe beyond r → failure) or fatal. */
  private nodeError(n: number, what: string, e: unknown): void {
    if (isNodeLoss(e)) {
      try {
        this.t.lose(n, e);
      } catch (pe) {
        this.failure ??= pe;
      }
    } else {
      if (/HCCONFLICT/.test(errMsg(e))) this.t.counters.conflicts++;
      this.failure ??= this.fatal(what, e);
    }
  }

  async ready(): Promise<void> {
    if (this.failure) throw this.failure;
    this.training = true;
    this.maybeRebuild();
    const t0 = performance.now();
    while (this.inflight.length >= this.maxInFlight) await this.inflight.shift();
    const b = this.queue.shift();
    if (!b) throw this.fatal('starting a cold batch', new Error('no prefetched batch (the cold stream was not wrapped)'));
    try {
      await b.pending;
    } catch (e) {
      this.failure ??= e;
    }
    if (this.failure) throw this.failure;
    this.waitSec += (performance.now() - t0) / 1000;
    const p = this.prev;
    const rows = b.rows;
    if (p) {
      const s = rows.stride;
      for (let u = 0; u < rows.U; u++) {
        if (rows.uHot[u]! >= 0) continue;
        const j = p.rows.find(rows.uT[u]!, rows.uR[u]!);
        if (j >= 0) rows.vals.set(p.rows.vals.subarray(j * s, j * s + s), u * s);
      }
    }
    this.cur = b;
  }

  gather(cats: Int32Array, B: number, out: Float32Array): void {
    const rows = this.cur!.rows;
    if (rows.lookups !== B * NUM_TABLES || rows.local.length < B * NUM_TABLES) throw this.fatal('gathering a cold batch', new Error('the prefetched batch is not the trained one'));
    rows.fillHot(this.device.hot);
    rows.gather(B, out);
    this.lookups += rows.lookups;
    this.lookupsHot += rows.hot;
    const bytes = rows.U * this.o.dim * 4;
    this.device.bytes.gatherIn += bytes;
    this.device.bytes.gradOut += bytes;
  }

  update(cats: Int32Array, B: number, grad: Float32Array): void {
    const b = this.cur!;
    const rows = b.rows;
    rows.applyStep(B, grad, this.o.opt, this.device);
    this.prev = b;
    this.cur = null;
    if (rows.cold === 0) return;
    if (this.faultAfter) {
      // tests: the trainer dies in the middle of this update (nothing after the phase is sent)
      const phase = this.faultAfter;
      this.faultAfter = null;
      this.inflight.push(this.sendUpdate(b, phase));
      this.failure = new PipelineError('internal', `test fault: update stopped after phase '${phase}'`);
      return;
    }
    this.sendUpdate(b);
  }

  /** Parity first (deltas + intent, atomically per parity node), then the data rows, in batch order. */
  sendUpdate(b: PBatch, stopAfter?: 'intent-partial' | 'parity' | 'data-partial'): Promise<void> {
    const T = this.t;
    const { k, rb } = T;
    const rows = b.rows;
    b.seq = ++this.seq;
    const ikey = intentKey(this.o.prefix, b.seq);
    const sbytes = rows.stride * 4;
    const vb = new Uint8Array(rows.vals.buffer, rows.vals.byteOffset, rows.vals.byteLength);
    const ob = new Uint8Array(rows.before.buffer, rows.before.byteOffset, rows.before.byteLength);
    const delta = (this.delta[0] = this.delta[0] && this.delta[0].length >= rows.U * rb ? this.delta[0] : new Uint8Array(rows.U * rb * 2));
    const intent = new Int32Array(rows.cold * 2);
    let ni = 0;
    const cas = new Requests(T.sentinel);
    const xor = new Requests(T.sentinel);
    for (let u = 0; u < rows.U; u++) {
      if (rows.uHot[u]! >= 0) continue;
      const t = rows.uT[u]!;
      const row = rows.uR[u]!;
      intent[ni++] = t;
      intent[ni++] = row;
      for (let x = 0; x < rb; x++) delta[u * rb + x] = ob[u * sbytes + x]! ^ vb[u * sbytes + x]!;
      const blk = (row / ROWS_PER_BLOCK) | 0;
      const i = blk % k;
      const off = row - blk * ROWS_PER_BLOCK;
      const wk = T.writeKind(i, T.map.dataPos(t, blk));
      if (wk === 'normal') cas.add(i, T.dkey(t, blk), off, u);
      else if (wk === 'xor') xor.add(i, T.dkey(t, blk), off, u);
      else T.counters.rowsParityOnly++;
    }
    const fp = this.o.fingerprint;
    const epochs = this.epoch.slice();
    const call = (q: NodeReq, fn: string, args: (string | number | Buffer)[]): Promise<void> => {
      const nd = T.nodes[q.node]!;
      if (this.epoch[q.node] !== epochs[q.node] || !nd.client) return Promise.resolve();
      T.counters.roundTrips++;
      T.counters.rowsWritten += q.dest.length;
      const bytes = args.reduce<number>((a, x) => a + (Buffer.isBuffer(x) ? x.length : 0), 0);
      T.counters.bytesWritten += bytes;
      return nd.client.fcall(fn, q.keys.length, ...q.keys, fp, rb, q.pairBuf(), ...args).then(() => undefined, (e: unknown) => this.nodeError(q.node, `updating ${this.t.name(q.node)}`, e));
    };
    const rowsBuf = (q: NodeReq, src: Uint8Array, stride: number): Buffer => {
      const out = Buffer.allocUnsafe(q.dest.length * rb);
      for (let x = 0; x < q.dest.length; x++) out.set(src.subarray(q.dest[x]! * stride, q.dest[x]! * stride + rb), x * rb);
      return out;
    };
    const done = this.done.join(' ');
    this.done = [];
    const intentBuf = Buffer.from(intent.buffer, 0, ni * 4);
    // parity: the batch's deltas summed per parity block (deltas.ts), the intent with each node's first call
    const blockCall = (q: BlockDeltaCall, first: boolean): Promise<void> => {
      const nd = T.nodes[q.node]!;
      if (this.epoch[q.node] !== epochs[q.node] || !nd.client) return Promise.resolve();
      T.counters.roundTrips++;
      T.counters.rowsWritten += q.rows;
      T.counters.bytesWritten += q.bytes.length + (first ? intentBuf.length : 0);
      return nd.client.fcall(FN_PBXOR, q.keys.length, ...q.keys, fp, q.lens, q.bytes, first ? ikey : '', first ? intentBuf : '', first ? done : '')
        .then(() => undefined, (e: unknown) => this.nodeError(q.node, `updating ${this.t.name(q.node)}`, e));
    };
    const parityCalls: (() => Promise<void>)[] = [];
    for (const [j, calls] of parityDeltaCalls(T, rows, delta).entries()) {
      const n = k + j;
      // a parity node this batch has no rows on still gets the intent (and the done list)
      if (calls.length === 0 && T.nodes[n]!.state !== 'lost') calls.push({ node: n, keys: [T.sentinel, scratchKey(this.o.prefix)], lens: Buffer.alloc(0), bytes: Buffer.alloc(0), rows: 0 });
      calls.forEach((q, x) => parityCalls.push(() => blockCall(q, x === 0)));
    }
    // built now: the delta buffer is the next batch's
    const dataCalls = [
      ...cas.all.map((q) => { const a = [rowsBuf(q, ob, sbytes), rowsBuf(q, vb, sbytes)]; return () => call(q, FN_PCAS, a); }),
      ...xor.all.map((q) => { const a = [rowsBuf(q, delta, rb), '', '', '']; return () => call(q, FN_PXOR, a); }),
    ];
    if (stopAfter) return this.partialUpdate(parityCalls, dataCalls, stopAfter);
    this.flying.push(b);
    let markSent!: () => void;
    const sent = new Promise<void>((res) => { markSent = res; });
    const before = this.lastSent;
    this.lastSent = sent;
    const pAll = Promise.all(parityCalls.map((f) => f()));
    const settle = (async () => {
      await pAll;
      await before;
      const acks = dataCalls.map((f) => f());
      markSent();
      await Promise.all(acks);
      const i = this.flying.indexOf(b);
      if (i >= 0) this.flying.splice(i, 1);
      this.done.push(ikey);
    })();
    this.inflight.push(settle);
    return settle;
  }

  /** Tests: an update stopped after a phase (the trainer dies there). */
  private async partialUpdate(parity: (() => Promise<void>)[], data: (() => Promise<void>)[], stop: 'intent-partial' | 'parity' | 'data-partial'): Promise<void> {
    if (stop === 'intent-partial') {
      await parity[0]?.();
      return;
    }
    await Promise.all(parity.map((f) => f()));
    if (stop === 'parity') return;
    await data[0]?.();
  }

  countHot(n: number): void {
    this.lookups += n;
    this.lookupsHot += n;
  }

  async barrier(): Promise<void> {
    const t0 = performance.now();
    while (this.inflight.length > 0) await this.inflight.shift();
    if (this.failure) throw this.failure;
    if (this.done.length > 0) {
      const keys = this.done;
      this.done = [];
      await Promise.all(this.t.nodes.slice(this.t.k).map((nd) => nd.client && nd.state !== 'lost' ? nd.client.del(...keys).catch((e: unknown) => this.nodeError(nd.n, 'deleting intents', e)) : undefined));
    }
    this.waitSec += (performance.now() - t0) / 1000;
    if (this.failure) throw this.failure;
  }

  /** Cold rows (ts[i], rs[i]) read (degraded-aware) into a reused batch. */
  private async readRows(ts: Int32Array, rs: Int32Array, n: number): Promise<BatchRows> {
    const b = (this.ckBatch ??= new PBatch(this.o.dim));
    b.rows.planRows(ts, rs, n, this.t.keysCache);
    await this.fetch(b);
    return b.rows;
  }

  evalSource(): EvalGather {
    return async (cats, B, out) => {
      await this.barrier();
      const b = this.evalBatch;
      b.rows.plan(cats, B, this.device.reverse, this.o.sizes, this.t.keysCache);
      const t0 = performance.now();
      try {
        await this.fetch(b);
      } catch (e) {
        throw this.fatal('reading evaluation rows', e);
      }
      this.waitSec += (performance.now() - t0) / 1000;
      b.rows.fillHot(this.device.hot);
      b.rows.gather(B, out);
    };
  }

  async beforeCheckpoint(): Promise<void> {
    await this.barrier();
    const t0 = performance.now();
    const dev = this.device;
    const rev = dev.reverse;
    const d = this.o.dim;
    const nf = this.t.nf;
    if (!this.materialized) {
      await this.t.readAll((t, r0, n, vals) => {
        const tab = dev.tables[t]!;
        const rv = rev ? rev[t]! : null;
        for (let i = 0; i < n; i++) {
          if (rv && rv[r0 + i]! >= 0) continue;
          tab.weights.set(vals.subarray(i * nf, i * nf + d), (r0 + i) * d);
          if (tab.accum) tab.accum[r0 + i] = vals[i * nf + d]!;
        }
      });
    } else {
      const ts: number[] = [];
      const rs: number[] = [];
      for (let t = 0; t < dev.tables.length; t++) {
        const tab = dev.tables[t]!;
        const rv = rev ? rev[t]! : null;
        for (let byte = 0; byte < tab.touched.length; byte++) {
          const bb = tab.touched[byte]!;
          if (bb === 0) continue;
          for (let x = 0; x < 8; x++) {
            const r = byte * 8 + x;
            if ((bb & (1 << x)) === 0 || r >= tab.rows || (rv && rv[r]! >= 0)) continue;
            ts.push(t);
            rs.push(r);
          }
        }
      }
      if (ts.length > 0) {
        const rows = await this.readRows(Int32Array.from(ts), Int32Array.from(rs), ts.length);
        const s = rows.stride;
        for (let u = 0; u < rows.U; u++) {
          const tab = dev.tables[rows.uT[u]!]!;
          const r = rows.uR[u]!;
          tab.weights.set(rows.vals.subarray(u * s, u * s + d), r * d);
          if (tab.accum) tab.accum[r] = rows.vals[u * s + d]!;
        }
      }
    }
    this.materialized = true;
    this.waitSec += (performance.now() - t0) / 1000;
  }

  async afterRestore(): Promise<void> {
    this.training = false;
    await this.barrier();
    const t0 = performance.now();
    const dev = this.device;
    const d = this.o.dim;
    const nf = this.t.nf;
    await this.t.writeAll((t, r0, n, out) => {
      const tab = dev.tables[t]!;
      for (let i = 0; i < n; i++) {
        out.set(tab.weights.subarray((r0 + i) * d, (r0 + i) * d + d), i * nf);
        if (tab.accum) out[i * nf + d] = tab.accum[r0 + i]!;
      }
    });
    this.queue.length = 0;
    this.prev = null;
    this.cur = null;
    this.materialized = true;
    this.initSec += (performance.now() - t0) / 1000;
  }

  /** Start a rebuild when a node is lost and a spare is given, or its address answers again. */
  private maybeRebuild(): void {
    if (this.o.autoRebuild === false || this.rebuilder.busy) return;
    const lost = this.t.nodes.find((nd) => nd.state === 'lost');
    if (!lost) return;
    if (this.spares.length > 0) {
      this.startRebuild(lost.n, this.spares.shift()!);
      return;
    }
    const now = performance.now();
    if (this.probing || now - this.lastProbe < (this.o.address.probeMs ?? 1000)) return;
    this.lastProbe = now;
    this.probing = true;
    connectNode(lost.addr, 500).then((c) => {
      c.disconnect();
      this.probing = false;
      if (!this.rebuilder.busy && lost.state === 'lost') this.startRebuild(lost.n, lost.addr);
    }, () => { this.probing = false; });
  }

  private startRebuild(n: number, to: NodeAddr, request?: string): void {
    this.events.push({ at: performance.now(), what: 'rebuild', node: n, detail: nodeName(to) });
    this.o.log?.(`train: parity cold store: rebuilding ${this.t.role(n)} onto ${nodeName(to)} in the background${request ? ' (asked by hotcold store rebuild)' : ''}`);
    const t0 = performance.now();
    if (request) this.lease.status({ id: request, state: 'started', detail: `rebuilding ${this.t.name(n)} onto ${nodeName(to)}` });
    this.rebuilder.start(n, to).then(() => {
      if (request) this.lease.status({ id: request, state: 'done', detail: `${this.t.map.total(n)} blocks in ${((performance.now() - t0) / 1000).toFixed(2)}s` });
    }, (e: unknown) => {
      if (request) this.lease.status({ id: request, state: 'failed', detail: errMsg(e) });
      if (e instanceof PipelineError && e.code === 'unavailable') this.failure ??= e;
      else this.o.log?.(`train: parity cold store: rebuild of ${this.t.role(n)} stopped: ${errMsg(e)}`);
    });
  }

  /**
   * `hotcold store rebuild` from another process: rebuild node q.node onto q.to in the background,
   * as for a spare — a lost node, or a live one moved there (only while every other node is up).
   */
  private onRequest(q: RebuildRequest): void {
    const T = this.t;
    const refuse = (detail: string): void => {
      this.lease.status({ id: q.id, state: 'failed', detail });
      this.o.log?.(`train: parity cold store: rebuild request from ${q.by} refused: ${detail}`);
    };
    const nd = T.nodes[q.node];
    if (!nd || !q.to || typeof q.to.host !== 'string' || !Number.isInteger(q.to.port)) return refuse(`not a rebuild request: ${JSON.stringify(q)}`);
    if (this.failure) return refuse('the trainer is stopping');
    if (!this.training) return refuse('the trainer is not training right now (starting, restoring or closing); ask again');
    if (this.rebuilder.busy) return refuse('a rebuild is running already');
    const clash = T.nodes.find((x) => x.n !== q.node && nodeName(x.addr) === nodeName(q.to));
    if (clash) return refuse(`${nodeName(q.to)} is ${T.name(clash.n)} of this store`);
    if (nd.state !== 'lost') {
      const down = T.nodes.filter((x) => x.n !== q.node && x.state !== 'ok');
      if (down.length >= T.r) return refuse(`${down.map((x) => T.name(x.n)).join(', ')} ${down.length > 1 ? 'are' : 'is'} not redundant yet: taking ${T.name(q.node)} out as well would exceed parity=${T.r}`);
      T.lose(q.node, new Error(`replaced on request (${q.by})`));
    }
    // the spare list keeps its spares: this rebuild starts now (busy), before the loss's own maybeRebuild
    this.startRebuild(q.node, q.to, q.id);
  }

  /** Wait for a running rebuild (tests, bench). */
  async rebuilt(): Promise<void> {
    await this.rebuilder.current;
  }

  /** The fault counters (metrics.json `coldStore.parity`). */
  parityReport(): ParityStoreReport {
    const c = this.t.counters;
    const rs = this.rebuilder.stats;
    const ttr: number[] = [];
    const lostAt = new Map<number, number>();
    for (const e of this.events) {
      if (e.what === 'lost') lostAt.set(e.node, e.at);
      else if (e.what === 'redundant' && lostAt.has(e.node)) ttr.push((e.at - lostAt.get(e.node)!) / 1000);
    }
    return {
      k: this.t.k, r: this.t.r, nodeLosses: this.events.filter((e) => e.what === 'lost').length,
      rowsReconstructed: c.rowsReconstructed, rowsParityOnly: c.rowsParityOnly,
      rebuildsStarted: rs.started, rebuildsCompleted: rs.completed, rebuildBlocks: rs.blocks, rebuildSec: rs.sec,
      timeToRedundancySec: ttr, notRedundant: this.degraded().map((n) => this.t.name(n)),
    };
  }

  report(): StoreReport {
    const c = this.t.counters;
    return {
      parity: this.parityReport(),
      kind: 'redis', address: this.o.address.spec, prefix: this.o.prefix, roundTrips: c.roundTrips, rowsRead: c.rowsRead, rowsWritten: c.rowsWritten,
      bytesRead: c.bytesRead, bytesWritten: c.bytesWritten, conflicts: c.conflicts, waitSec: this.waitSec, initSec: this.initSec,
      lookups: this.lookups, lookupsHot: this.lookupsHot, hotShare: this.lookups > 0 ? this.lookupsHot / this.lookups : 0,
    };
  }

  async close(): Promise<void> {
    this.training = false;
    await Promise.allSettled(this.inflight);
    this.inflight.length = 0;
    this.rebuilder.stop();
    await this.rebuilder.current?.catch(() => undefined);
    await this.lease.stop();
    this.t.close();
  }
}
