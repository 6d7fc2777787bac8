/**
 * Background rebuild of a lost node onto a replacement (a spare, or the node's address once it
 * answers again), while training continues. The node's blocks are taken in order, a chunk at a
 * time:
 *
 *     mark    (synchronously) `marked` passes the chunk and the reads of its stripes go out: the
 *             parity blocks hold every update issued so far, the other data blocks are patched
 *             with the rows of updates still in flight (the trainer's copy), so the stripe read
 *             is the state as of this instant; from now on, updates of rows in the chunk are sent
 *             to the replacement as XOR deltas
 *     write   the chunk's reconstructed blocks are XORed onto the replacement (which holds
 *             exactly the deltas since the mark: XOR commutes, so the result is the current
 *             value), and in the same instant `live` passes the chunk: reads and writes of
 *             those blocks go to the replacement from now on (its connection orders them after
 *             the rebuild's writes)
 *
 * The replacement's keys under the prefix are deleted first. A node lost during the rebuild (the
 * replacement or another) ends it; the node is lost again and a later rebuild starts over.
 */
import { PipelineError } from '../../../../pipeline/errors.js';
import type { BatchRows } from '../batch-rows.js';
import { ROWS_PER_BLOCK } from '../layout.js';
import { FN_PXOR } from './functions.js';
import { pmetaKey, psentinelKey, type NodeAddr } from './layout.js';
import { connectNode, errMsg, isNodeLoss, nodeName } from './nodes.js';
import type { ParityTables } from './tables.js';

/** Blocks per chunk. */
const CHUNK = 256;

export class Rebuilder {
  current: Promise<void> | null = null;
  busy = false;
  private node = -1;
  private stopped = false;
  /** node n is redundant again after sec seconds */
  onDone?: (n: number, sec: number) => void;

  constructor(
    private readonly t: ParityTables,
    private readonly latest: (t: number, row: number) => { rows: BatchRows; u: number } | null,
    private readonly log: (msg: string) => void,
  ) {}

  /** The node being rebuilt was lost again: the rebuild ends at its next step. */
  abortIf(n: number): void {
    if (this.node === n) this.stopped = true;
  }

  stop(): void {
    this.stopped = true;
  }

  start(n: number, to: NodeAddr): Promise<void> {
    if (this.busy) return Promise.reject(new Error('a rebuild is running'));
    this.busy = true;
    this.node = n;
    this.stopped = false;
    this.current = this.run(n, to).finally(() => {
      this.busy = false;
      this.node = -1;
    });
    return this.current;
  }

  private async run(n: number, to: NodeAddr): Promise<void> {
    const T = this.t;
    const t0 = performance.now();
    const c = await connectNode(to);
    // the replacement starts empty under the prefix
    let cursor = '0';
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', `${T.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await c.unlink(...keys);
    } while (cursor !== '0');
    await c.set(psentinelKey(T.prefix), T.spec.fingerprint);
    const nd = T.nodes[n]!;
    if (nd.state !== 'lost') {
      c.disconnect();
      return;
    }
    nd.addr = to;
    nd.client = c;
    nd.marked = nd.live = 0;
    nd.state = 'rebuilding';
    nd.why = undefined;
    const total = T.map.total(n);
    const { k, r, bl, rb } = T;
    const bufs = Array.from({ length: CHUNK }, () => new Uint8Array((k + r) * bl));
    try {
      for (let pos = 0; pos < total; pos += CHUNK) {
        if (this.stopped || nd.state !== 'rebuilding') throw new Error('rebuild stopped (node lost again)');
        const cnt = Math.min(CHUNK, total - pos);
        nd.marked = pos + cnt;
        const blocks: { t: number; s: number; blk: number; key: string; rows: number }[] = [];
        const reads: Promise<unknown>[] = [];
        for (let x = 0; x < cnt; x++) {
          const { t, i } = T.map.at(n, pos + x);
          const s = i;
          const blk = n < k ? s * k + n : -1;
          blocks.push({ t, s, blk, key: n < k ? T.dkey(t, blk) : T.pkey(t, s), rows: n < k ? T.map.blockRows(t, blk) : ROWS_PER_BLOCK });
          reads.push(T.readStripe(t, s, bufs[x]!, (known) => this.patch(t, s, known, n), true));
        }
        const res = await Promise.allSettled(reads);
        const bad = res.find((x): x is PromiseRejectedResult => x.status === 'rejected');
        if (bad) throw bad.reason;
        if (this.stopped || nd.state !== 'rebuilding') throw new Error('rebuild stopped (node lost again)');
        const writes: Promise<unknown>[] = [];
        for (let x = 0; x < cnt; x++) {
          const b = blocks[x]!;
          const pairs = new Int32Array(b.rows * 2);
          for (let q = 0; q < b.rows; q++) {
            pairs[2 * q] = 2;
            pairs[2 * q + 1] = q;
          }
          const bytes = Buffer.from(bufs[x]!.subarray(n * bl, n * bl + b.rows * rb));
          T.counters.roundTrips++;
          T.counters.bytesWritten += bytes.length;
          writes.push(c.fcall(FN_PXOR, 2, psentinelKey(T.prefix), b.key, T.spec.fingerprint, rb, Buffer.from(pairs.buffer), bytes, '', '', '', 'block'));
        }
        nd.live = pos + cnt;
        const wr = await Promise.allSettled(writes);
        const wbad = wr.find((x): x is PromiseRejectedResult => x.status === 'rejected');
        if (wbad) throw Object.assign(new Error(errMsg(wbad.reason)), { node: n });
        await new Promise((res2) => setImmediate(res2));
      }
      const metaSrc = T.nodes.find((x) => x.n !== n && x.state === 'ok' && x.client);
      const raw = metaSrc ? await metaSrc.client!.get(pmetaKey(T.prefix)) : null;
      if (raw) {
        const m = JSON.parse(raw) as Record<string, unknown>;
        await c.set(pmetaKey(T.prefix), JSON.stringify({ ...m, role: n < k ? 'data' : 'parity', index: n < k ? n : n - k, complete: true }));
      }
      nd.state = 'ok';
      const sec = (performance.now() - t0) / 1000;
      this.log(`train: parity cold store: ${T.role(n)} rebuilt on ${nodeName(to)} (${total} blocks) in ${sec.toFixed(2)}s: full redundancy again`);
      this.onDone?.(n, sec);
    } catch (e) {
      if (e instanceof PipelineError) throw e;
      const who = (e as { node?: number }).node;
      // the replacement (or another node) failed: lost again (throws when beyond r)
      if (nd.state === 'rebuilding') T.lose(n, e);
      if (who !== undefined && who !== n && isNodeLoss(e)) T.lose(who, e);
      throw e;
    }
  }

  /** Known data rows of stripe (t, s) other than node n's: the newest in-flight values. */
  private patch(t: number, s: number, known: boolean[], n: number): [number, Uint8Array][] {
    const T = this.t;
    const { k, rb, bl } = T;
    const out: [number, Uint8Array][] = [];
    for (let i = 0; i < k; i++) {
      if (i === n || !known[i]) continue;
      const blk = s * k + i;
      const nr = T.map.blockRows(t, blk);
      for (let o = 0; o < nr; o++) {
        const l = this.latest(t, blk * ROWS_PER_BLOCK + o);
        if (!l) continue;
        const v = l.rows.vals;
        out.push([i * bl + o * rb, new Uint8Array(v.buffer, v.byteOffset + l.u * l.rows.stride * 4, rb).slice()]);
      }
    }
    return out;
  }
}
