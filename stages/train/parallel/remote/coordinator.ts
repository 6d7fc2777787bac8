/**
 * Rank 0 of a multi-process run over the Redis tier (`parallel.transport = redis`): the
 * `hotcold train` process. It keeps train.ts's loop (schedule, evaluations, checkpoints) and
 * trains its own slice of every global batch; before each step it tells the other ranks which
 * batch (stream, epoch, index, a checksum) to read from their own copy of the data.
 *
 *     trainer.open()     the store (RedisColdStore.open: seeds, fingerprint), the rendezvous,
 *                        wait for K − 1 joins (parallel.joinTimeoutSec), then the state → every rank
 *     step               command 'step' → RankEngine.step (rank.ts) on every rank (Slipstream's
 *                        filtered hot batches posted for the others: remote/slip.ts)
 *     barrier / beforeCheckpoint   command 'sync' (reconcile, average: bounds > 0) at a global
 *                        barrier, then the RedisColdStore's own (reads the touched cold rows)
 *     afterRestore       the store rewritten from the checkpoint, the state → every rank
 *     close              command 'stop'
 */
import { PipelineError } from '../../../../pipeline/errors.js';
import { configHash } from '../../../../pipeline/hash.js';
import type { Rng } from '../../../../pipeline/rng.js';
import type { TrainConfig } from '../../config.js';
import { NUM_TABLES, type Batch } from '../../data/batch.js';
import type { Device } from '../../device.js';
import type { Engine } from '../../engine/engine.js';
import type { TrainInputs } from '../../setup.js';
import { defaultPrefix, parseStoreAddress, storeFingerprint, type BatchSource, type ColdStore, type EvalGather, type StoreReport } from '../../store/index.js';
import type { EmbeddingTable } from '../../model/embedding.js';
import { RedisTables } from '../../store/redis-tables.js';
import { connectStore, type StoreClient } from '../../store/connect.js';
import { Trainer } from '../../trainer.js';
import { runPartition, type PartitionResult } from '../partition.js';
import { Link, parKey } from './link.js';
import { RankEngine } from './rank.js';
import { setStatus, writeRendezvous } from './rendezvous.js';
import { replicaSlipstream } from '../pool.js';
import { ReplicaSlipstream } from '../slip.js';
import type { ParallelRun } from '../index.js';
import { encodeBatch, remoteReplicaOps } from './slip.js';

export interface RemoteSetup {
  cfg: TrainConfig;
  engine: Engine;
  inputs: TrainInputs;
  out: string;
  dataDir: string;
  hotDir?: string;
  coldStore: string;
  dataHash: string;
  /** the RedisColdStore factory train.ts built for --cold-store */
  coldFactory: (device: Device) => ColdStore;
  info?: (msg: string, extra?: Record<string, unknown>) => void;
}

/** What train.ts tells the step: which batch of which stream it is (the other ranks read the same one). */
export interface BatchAt {
  epoch: number;
  idx: number;
}

/** A cheap checksum of a batch (labels, cats): the other ranks verify they read the same one. */
export function batchSum(b: Batch): number {
  let h = 0x811c9dc5 ^ b.size;
  const n = b.size * NUM_TABLES;
  const c = b.cats;
  for (let i = 0; i < n; i++) h = Math.imul(h ^ c[i]!, 0x01000193);
  const l = b.labels;
  for (let i = 0; i < b.size; i++) h = Math.imul(h ^ (l[i]! > 0.5 ? 1 : 0), 0x01000193);
  return h >>> 0;
}

/** Distinct (table, row) pairs of a batch, split hot / cold (the Device's counters, as one process counts them). */
class PairCounter {
  private keys = new Int32Array(0);
  private stamp = new Int32Array(0);
  private st = 0;
  count(cats: Int32Array, B: number, rev: Int32Array[] | null, hot: boolean): { cold: number; hot: number } {
    const n = B * NUM_TABLES;
    if (this.keys.length < 2 * n) {
      let cap = 16;
      while (cap < 2 * n) cap <<= 1;
      this.keys = new Int32Array(cap);
      this.stamp = new Int32Array(cap);
      this.st = 0;
    }
    const st = ++this.st;
    const mask = this.keys.length - 1;
    let c = 0;
    let h = 0;
    for (let i = 0; i < n; i++) {
      const f = i % NUM_TABLES;
      const id = cats[i]!;
      const hi = hot ? id : rev ? rev[f]![id]! : -1;
      const key = hi >= 0 ? -1 - hi : id * NUM_TABLES + f;
      let p = (Math.imul(key, 0x9e3779b1) >>> 7) & mask;
      for (;;) {
        if (this.stamp[p] !== st) { this.stamp[p] = st; this.keys[p] = key; if (hi >= 0) h++; else c++; break; }
        if (this.keys[p] === key) break;
        p = (p + 1) & mask;
      }
    }
    return { cold: c, hot: h };
  }
}

/** The cold store rank 0's Trainer sees: the RedisColdStore for everything but training steps, and the rank protocol. */
class RemoteColdStore implements ColdStore {
  readonly kind = 'redis' as const;
  step = 0;
  lookups = 0;
  lookupsHot = 0;
  stopped = false;
  constructor(readonly inner: ColdStore, private readonly hooks: { open(): Promise<void>; sync(): Promise<void>; load(): Promise<void>; close(): Promise<void>; counters(): Partial<StoreReport> }) {}
  async open(rng: Rng): Promise<void> {
    await this.inner.open(rng);
    await this.hooks.open();
  }
  wrap(stream: BatchSource): BatchSource {
    return stream;
  }
  ready(): Promise<void> {
    return Promise.resolve();
  }
  gather(): void {
    throw new PipelineError('internal', 'RemoteColdStore.gather: a multi-process run trains through its ranks');
  }
  update(): void {
    throw new PipelineError('internal', 'RemoteColdStore.update: a multi-process run trains through its ranks');
  }
  countHot(n: number): void {
    this.lookups += n;
    this.lookupsHot += n;
  }
  async barrier(): Promise<void> {
    await this.hooks.sync();
    await this.inner.barrier();
  }
  evalSource(): EmbeddingTable[] | EvalGather {
    return this.inner.evalSource();
  }
  async beforeCheckpoint(): Promise<void> {
    await this.hooks.sync();
    await this.inner.beforeCheckpoint();
  }
  async afterRestore(): Promise<void> {
    await this.inner.afterRestore();
    await this.hooks.load();
  }
  report(): StoreReport {
    const r = this.inner.report();
    const c = this.hooks.counters();
    return {
      ...r, roundTrips: r.roundTrips + (c.roundTrips ?? 0), rowsRead: r.rowsRead + (c.rowsRead ?? 0), rowsWritten: r.rowsWritten + (c.rowsWritten ?? 0),
      bytesRead: r.bytesRead + (c.bytesRead ?? 0), bytesWritten: r.bytesWritten + (c.bytesWritten ?? 0), conflicts: r.conflicts + (c.conflicts ?? 0),
      waitSec: r.waitSec + (c.waitSec ?? 0), lookups: this.lookups, lookupsHot: this.lookupsHot, hotShare: this.lookups > 0 ? this.lookupsHot / this.lookups : 0,
    };
  }
  async close(): Promise<void> {
    await this.hooks.close();
    await this.inner.close();
  }
}

/** Build rank 0 (the thread mode's ParallelRun, over processes): the Trainer over the redis store, the partition; the rendezvous happens in trainer.open(). */
export async function openRemote(s: RemoteSetup): Promise<ParallelRun> {
  const { cfg } = s;
  const K = cfg.parallel.workers;
  const addr = parseStoreAddress(s.coldStore)!;
  const runId = addr.prefix ?? defaultPrefix(s.out);
  let part: PartitionResult | null = null;
  if (cfg.parallel.partition === 'graph') {
    part = await runPartition({ cfg, inputs: s.inputs, out: s.out, dataHash: s.dataHash });
    s.info?.(`train: graph partition over ${part.report.inputs} sampled inputs for ${K} processes: cut ${(100 * part.report.cut.graph).toFixed(1)}% vs random ${(100 * part.report.cut.random).toFixed(1)}% (${part.reused ? 'reused' : `${part.report.seconds.toFixed(1)}s`})`, { partition: part.report });
  }
  const owners = part ? part.owners : null;
  let link: Link | null = null;
  let tables: RedisTables | null = null;
  let writer: RedisTables | null = null;
  let writerClient: StoreClient | null = null;
  let engine: RankEngine | null = null;
  let hosts: string[] = [];
  let cold: RemoteColdStore | null = null;
  const counts = new PairCounter();
  let trained = 0;
  let reported = false;
  const sendState = async (): Promise<void> => {
    const n = link!.next;
    const parts = await link!.postBlob(n, 'state', engine!.stateBlob());
    await link!.command({ op: 'load', n, parts, step: cold!.step });
    engine!.loadState(null, cold!.step);
    await link!.barrier();
    link!.collect();
  };
  const sync = async (): Promise<void> => {
    if (!engine || cold!.stopped) return;
    await link!.command({ op: 'sync', n: cold!.step });
    await engine.sync(cold!.step);
  };
  const trainer = new Trainer(cfg, s.engine, s.inputs.tableSizes, s.inputs.hotMap, (device) => (cold = new RemoteColdStore(s.coldFactory(device), {
    async open() {
      const fp = storeFingerprint(s.dataHash, cfg);
      const probe = await Link.open(addr, runId, 0, 0, K, cfg.parallel.heartbeatSec);
      const attempt = await probe.client.incr(parKey(runId, 'attempts'));
      await probe.close();
      link = await Link.open(addr, runId, attempt, 0, K, cfg.parallel.heartbeatSec);
      const l = link;
      await l.startHeartbeat();
      await l.announce();
      await writeRendezvous(l.client, s.out, {
        runId, attempt, status: 'joining', K, configHash: configHash(cfg), dataHash: s.dataHash, dataFingerprint: s.inputs.data.fingerprint,
        hotFingerprint: s.inputs.seg?.fingerprint ?? null, dim: cfg.model.dim, denseParams: trainer.model.params.length, hotRows: device.hot?.rows ?? 0,
        config: cfg, dataDir: s.dataDir, hotDir: s.hotDir ?? null, store: s.coldStore, partition: owners ? configHash(owners.map((o) => Buffer.from(o).toString('base64'))) : null,
      });
      const join = `hotcold worker --join ${s.out} --cold-store ${s.coldStore}   (or --join ${runId}; on another host add --data <copy of ${s.dataDir}>${s.hotDir ? ` --hot <copy of ${s.hotDir}>` : ''})`;
      s.info?.(`train: multi-process run ${runId} (attempt ${attempt}): waiting for ${K - 1} more process(es) to join: ${join}`);
      process.stderr.write(`train: waiting for ${K - 1} process(es): ${join}\n`);
      const t0 = performance.now();
      for (;;) {
        const n = Number((await l.client.get(l.key('ranks'))) ?? 0);
        if (n >= K - 1) {
          const m = await l.readMembers();
          if (m.every((x) => x !== null)) break;
        }
        if ((performance.now() - t0) / 1000 > cfg.parallel.joinTimeoutSec) {
          throw new PipelineError('worker_failed', `train: only ${n} of ${K - 1} worker process(es) joined run ${runId} within ${cfg.parallel.joinTimeoutSec}s`, {
            field: 'parallel.joinTimeoutSec', hint: `start them with \`${join}\`, or raise parallel.joinTimeoutSec`,
          });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      hosts = (await l.readMembers()).map((m) => m!.host);
      await setStatus(l.client, runId, 'running');
      s.info?.(`train: all ${K} processes joined (${hosts.map((h, r) => `rank ${r} on ${h}`).join(', ')}) in ${((performance.now() - t0) / 1000).toFixed(1)}s`, { hosts });
      tables = new RedisTables(l.client, addr, runId, { fingerprint: fp, dim: cfg.model.dim, opt: { ...cfg.optim.sparse }, sizes: s.inputs.tableSizes });
      const meta = await tables.check();
      if (!meta) throw new PipelineError('internal', `the cold store ${addr.spec} (prefix '${runId}') has no meta after its creation`);
      tables.useSeeds(meta.seeds);
      writerClient = await connectStore(addr);
      writer = new RedisTables(writerClient, addr, runId, { ...tables.spec, seeds: meta.seeds });
      engine = new RankEngine({ cfg, trainer, link: l, tables, writer, owners, splitter: { kind: cfg.parallel.partition, owners }, coordinator: true });
      await sendState();
    },
    sync,
    async load() {
      await sendState();
    },
    async close() {
      const l = link;
      if (!l || cold!.stopped) return;
      cold!.stopped = true;
      await l.command({ op: 'stop', reason: reported ? null : 'the coordinator stopped before the end of the run (see its log)' }).catch(() => undefined);
      await setStatus(l.client, runId, 'ended').catch(() => undefined);
      await l.close();
      const wc = writerClient as StoreClient | null;
      if (wc) await wc.quit().catch(() => wc.disconnect());
    },
    counters() {
      const c = (tables as RedisTables | null)?.counters;
      const w = (writer as RedisTables | null)?.counters;
      if (!c || !w) return {};
      return {
        roundTrips: c.roundTrips + w.roundTrips, rowsRead: c.rowsRead + w.rowsRead, rowsWritten: c.rowsWritten + w.rowsWritten, bytesRead: c.bytesRead + w.bytesRead,
        bytesWritten: c.bytesWritten + w.bytesWritten, conflicts: c.conflicts + w.conflicts, waitSec: (link as Link | null)?.barrierSec ?? 0,
      };
    },
  })));
  const dev = trainer.device;
  const d = cfg.model.dim;
  let slip: ReplicaSlipstream | null = null;
  return {
    trainer,
    get tags() {
      return slip?.tags ?? null;
    },
    slipstream(log) {
      const H = dev.hot?.rows ?? 0;
      if (!replicaSlipstream(cfg) || H === 0) return null;
      if (!engine || !link || !engine.replica) throw new PipelineError('internal', 'per-replica Slipstream over processes before the rendezvous');
      slip = new ReplicaSlipstream(cfg.slipstream, cfg.train.batchSize, log, remoteReplicaOps(link, engine.replica, H, d), { kind: cfg.parallel.partition, owners });
      return slip;
    },
    async step(hot, steps, where, at) {
      if (!engine || !link) throw new PipelineError('internal', 'multi-process step before the rendezvous');
      if (!at) throw new PipelineError('internal', 'multi-process step without the batch position');
      const c = cold!;
      const batch = trainer.batch;
      const B = batch.size;
      const { hotBound, denseBound } = cfg.parallel;
      const reconcile = hotBound > 0 && (steps + 1) % hotBound === 0;
      const average = denseBound > 0 && (steps + 1) % denseBound === 0;
      const rt = slip?.tags ?? null;
      const tags = hot && rt?.valid ? rt.tags : null;
      if (rt) rt.valid = false;
      // Slipstream: a hot batch after the filter is not batch idx of the stream: the ranks read it from this post
      const post = cfg.mode === 'slipstream' && hot ? { bn: link.next, parts: 0 } : null;
      if (post) post.parts = await link.postBlob(post.bn, 'batch', encodeBatch(batch, tags));
      await link.command({ op: 'step', n: steps, hot, epoch: at.epoch, idx: at.idx, B, sum: batchSum(batch), reconcile, average, ...(post ?? {}) });
      const loss = await engine.step(batch, hot, steps, reconcile, average, tags);
      if (!Number.isFinite(loss)) {
        throw new PipelineError('numeric', `training loss is ${loss} at ${where()}`, { hint: 'lower the learning rates (optim.dense.lr, optim.sparse.lr) or use adagrad' });
      }
      c.step = steps + 1;
      trained++;
      const u = counts.count(batch.cats, B, dev.reverse, hot);
      if (hot) {
        dev.rows.hotGathered += B * NUM_TABLES;
        dev.rows.hotUnique += u.hot;
        c.countHot(B * NUM_TABLES);
      } else {
        dev.rows.coldGathered += B * NUM_TABLES;
        dev.rows.coldUnique += u.cold + u.hot;
        dev.bytes.gatherIn += (u.cold + u.hot) * d * 4;
        dev.bytes.gradOut += (u.cold + u.hot) * d * 4;
        c.lookups += B * NUM_TABLES;
      }
      return loss;
    },
    report() {
      reported = true; // train.ts reports before it closes the store: a close without it is a failed run
      const t = engine ? engine.totals() : null;
      const z = { denseBytes: 0, sparseBytes: 0, hotBytes: 0, remoteRows: 0, hotLookups: 0, staleSum: 0, staleMax: 0, reconciles: 0, reconciledRows: 0, conflictRows: 0, coldApplied: 0 };
      const st = t ?? z;
      return {
        workers: K, denseBound: cfg.parallel.denseBound, hotBound: cfg.parallel.hotBound, partition: cfg.parallel.partition, steps: trained,
        denseBytes: st.denseBytes, remoteRows: st.remoteRows, sparseBytes: st.sparseBytes, hotBytes: st.hotBytes, bytesExchanged: st.denseBytes + st.sparseBytes + st.hotBytes,
        staleness: { mean: st.hotLookups > 0 ? st.staleSum / st.hotLookups : 0, max: st.staleMax },
        reconciles: st.reconciles, reconciledRows: st.reconciledRows, conflictRows: st.conflictRows,
        cut: part ? { graph: part.report.cut.graph, random: part.report.cut.random } : null,
        transport: 'redis', hosts, barriers: link?.barriers ?? 0, barrierSec: link?.barrierSec ?? 0,
        ...(slip ? { slipstream: slip.report() } : {}),
      };
    },
  };
}
