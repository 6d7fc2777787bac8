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
 *
 * What it costs the trainer (it runs in the trainer's event loop, on the trainer's connections,
 * which order its reads after the updates already sent): per chunk one MGET per other node and
 * one `hp_bxor` call onto the replacement (the XOR onto the deltas done natively, BITOP), and the
 * in-flight rows patched in one pass over the batches in flight. `rate` (blocks per second, the
 * address's `rebuild=`) paces it: after each chunk it waits until the chunks done fit the rate,
 * trading time to full redundancy for throughput; 0 (the default) is as fast as it goes.
 */
import { PipelineError } from '../../../../pipeline/errors.js';
import type { BatchRows } from '../batch-rows.js';
import { MAX_KEYS } from '../functions.js';
import { ROWS_PER_BLOCK } from '../layout.js';
import { FN_PBXOR } from './functions.js';
import { pmetaKey, psentinelKey, scratchKey, type NodeAddr } from './layout.js';
import { connectNode, errMsg, isNodeLoss, nodeName } from './nodes.js';
import type { ParityTables } from './tables.js';

/** Blocks per chunk (unpaced; paced: about a tenth of a second of the rate, at least 8). */
export const REBUILD_CHUNK = 1024;

export interface RebuildOptions {
  /** blocks per chunk. @default REBUILD_CHUNK */
  chunk?: number;
  /** blocks per second at most (0: unpaced). @default 0 */
  rate?: number;
}

/** What the rebuilds of a store did (metrics.json, coldStore.parity). */
export interface RebuildStats {
  /** rebuilds started / finished (full redundancy again) */
  started: number;
  completed: number;
  /** blocks written onto replacements (finished or not) */
  blocks: number;
  /** seconds spent rebuilding (all rebuilds, finished or not) */
  sec: number;
}

export class Rebuilder {
  current: Promise<void> | null = null;
  busy = false;
  readonly stats: RebuildStats = { started: 0, completed: 0, blocks: 0, sec: 0 };
  private node = -1;
  private stopped = false;
  /** node n is redundant again after sec seconds */
  onDone?: (n: number, sec: number) => void;
  private readonly chunk: number;
  private readonly rate: number;

  /**
   * @param flying the batches whose updates are in flight (not yet acknowledged by every node),
   *               oldest first: their rows are newer than what the nodes may hold
   */
  constructor(
    private readonly t: ParityTables,
    private readonly flying: () => BatchRows[],
    private readonly log: (msg: string) => void,
    o: RebuildOptions = {},
  ) {
    this.rate = Math.max(0, o.rate ?? 0);
    this.chunk = Math.max(1, Math.floor(o.chunk ?? (this.rate > 0 ? Math.min(REBUILD_CHUNK, Math.max(8, this.rate / 10)) : REBUILD_CHUNK)));
  }

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
    this.stats.started++;
    const t0 = performance.now();
    this.current = this.run(n, to).finally(() => {
      this.stats.sec += (performance.now() - t0) / 1000;
      this.busy = false;
      this.node = -1;
    });
    return this.current;
  }

  private async run(n: number, to: NodeAddr): Promise<void> {
    const T = this.t;
    const t0 = performance.now();
    // the meta (from a node that is up) is read while the replacement is connected and cleared
    const metaSrc = T.nodes.find((x) => x.n !== n && x.state === 'ok' && x.client);
    const meta = metaSrc ? metaSrc.client!.get(pmetaKey(T.prefix)).catch(() => null) : Promise.resolve(null);
    const c = await connectNode(to);
    // the replacement starts empty under the prefix; the unlinks and the sentinel are not waited
    // for: the connection orders them before everything the rebuild and the trainer send next
    let cursor = '0';
    const setup: Promise<unknown>[] = [];
    do {
      const [next, keys] = await c.scan(cursor, 'MATCH', `${T.prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) setup.push(c.unlink(...keys));
    } while (cursor !== '0');
    setup.push(c.set(psentinelKey(T.prefix), T.spec.fingerprint));
    for (const p of setup) p.catch(() => undefined); // awaited with the first chunk's writes (unless the rebuild ends before)
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
    const W = (k + r) * bl;
    const CH = this.chunk;
    const buf = new Uint8Array(Math.min(CH, total) * W);
    const scratch = scratchKey(T.prefix);
    const stop = (): never => { throw new Error('rebuild stopped (node lost again)'); };
    const completeMeta = async (): Promise<unknown> => {
      const raw = await meta;
      if (!raw) return;
      const m = JSON.parse(raw) as Record<string, unknown>;
      return c.set(pmetaKey(T.prefix), JSON.stringify({ ...m, role: n < k ? 'data' : 'parity', index: n < k ? n : n - k, complete: true }));
    };
    try {
      if (total === 0) await Promise.all([...setup, completeMeta()]);
      for (let pos = 0; pos < total; pos += CH) {
        if (this.stopped || nd.state !== 'rebuilding') stop();
        const cnt = Math.min(CH, total - pos);
        // mark: from here on updates of the chunk's rows reach the replacement as deltas
        nd.marked = pos + cnt;
        const list: { t: number; s: number }[] = [];
        for (let x = 0; x < cnt; x++) {
          const { t, i } = T.map.at(n, pos + x);
          list.push({ t, s: i });
        }
        await T.readStripes(list, buf, n, () => this.patches(n, pos, cnt));
        if (this.stopped || nd.state !== 'rebuilding') stop();
        // write: XORed onto the deltas since the mark; live in the same instant
        const writes: Promise<unknown>[] = [];
        for (let x0 = 0; x0 < cnt; x0 += MAX_KEYS - 2) {
          const x1 = Math.min(cnt, x0 + MAX_KEYS - 2);
          const keys: string[] = [psentinelKey(T.prefix), scratch];
          const lens = new Int32Array(x1 - x0);
          let bytes = 0;
          for (let x = x0; x < x1; x++) {
            const { t, s } = list[x]!;
            const nr = n < k ? T.map.blockRows(t, s * k + n) : ROWS_PER_BLOCK;
            keys.push(n < k ? T.dkey(t, s * k + n) : T.pkey(t, s));
            lens[x - x0] = nr * rb;
            bytes += nr * rb;
          }
          const out = Buffer.allocUnsafe(bytes);
          let at = 0;
          for (let x = x0; x < x1; x++) {
            const o = x * W + n * bl;
            out.set(buf.subarray(o, o + lens[x - x0]!), at);
            at += lens[x - x0]!;
          }
          T.counters.roundTrips++;
          T.counters.bytesWritten += out.length;
          writes.push(c.fcall(FN_PBXOR, keys.length, ...keys, T.spec.fingerprint, Buffer.from(lens.buffer), out, '', '', ''));
        }
        nd.live = pos + cnt;
        // the last chunk: the meta (complete) goes right after its writes, on the same connection
        if (pos + cnt >= total) writes.push(completeMeta());
        const wr = await Promise.allSettled([...setup.splice(0), ...writes]);
        const wbad = wr.find((x): x is PromiseRejectedResult => x.status === 'rejected');
        if (wbad) throw Object.assign(new Error(errMsg(wbad.reason)), { node: n });
        this.stats.blocks += cnt;
        if (pos + cnt >= total) break;
        // pace (rebuild=), else one event-loop turn for the trainer
        const due = this.rate > 0 ? t0 + ((pos + cnt) / this.rate) * 1000 - performance.now() : 0;
        await new Promise((res2) => (due > 1 ? setTimeout(res2, due) : setImmediate(res2)));
      }
      nd.state = 'ok';
      this.stats.completed++;
      const sec = (performance.now() - t0) / 1000;
      this.log(`train: parity cold store: ${T.role(n)} rebuilt on ${nodeName(to)} (${total} blocks) in ${sec.toFixed(2)}s: full redundancy again`);
      this.onDone?.(n, sec);
    } catch (e) {
      if (e instanceof PipelineError) throw e;
      // not a replacement now, whatever of its writes got through
      if (!isNodeLoss(e)) await c.del(pmetaKey(T.prefix)).catch(() => undefined);
      const who = (e as { node?: number }).node;
      // the replacement (or another node) failed: lost again (throws when beyond r)
      if (nd.state === 'rebuilding') T.lose(n, e);
      if (who !== undefined && who !== n && isNodeLoss(e)) T.lose(who, e);
      throw e;
    }
  }

  /**
   * The rows of updates in flight that lie in the chunk's stripes (node positions [pos, pos + cnt)
   * of node n), on the other data members: [stripe in chunk, byte offset in it, bytes now],
   * newest last (applied in order, so the newest wins). One pass over the batches in flight.
   */
  private patches(n: number, pos: number, cnt: number): [number, number, Uint8Array][] {
    const T = this.t;
    const { k, rb, bl } = T;
    const out: [number, number, Uint8Array][] = [];
    for (const rows of this.flying()) {
      const vb = new Uint8Array(rows.vals.buffer, rows.vals.byteOffset, rows.vals.byteLength);
      const sb = rows.stride * 4;
      for (let u = 0; u < rows.U; u++) {
        if (rows.uHot[u]! >= 0) continue;
        const t = rows.uT[u]!;
        const row = rows.uR[u]!;
        const blk = (row / ROWS_PER_BLOCK) | 0;
        const i = blk % k;
        if (i === n) continue;
        const s = (blk / k) | 0;
        if (n < k && T.map.blockRows(t, s * k + n) === 0) continue; // node n has no block in this stripe
        const x = T.map.stripePos(n, t, s) - pos;
        if (x < 0 || x >= cnt) continue;
        out.push([x, i * bl + (row - blk * ROWS_PER_BLOCK) * rb, vb.slice(u * sb, u * sb + rb)]);
      }
    }
    return out;
  }
}
