/**
 * `hotcold worker --join <run>`: one rank r ≥ 1 of a multi-process run over the Redis tier, on
 * this host or another. It finds the rendezvous (rendezvous.ts), refuses another config or data
 * (naming both fingerprints), claims a rank, and then follows the coordinator's commands:
 *
 *     load   the coordinator's dense state and hot table (initial, or after a --resume)
 *     step   read that batch (stream, epoch, index) from its own copy of the data, check its
 *            checksum, train its slice (rank.ts); Slipstream's filtered hot batches are read
 *            from rank 0's post instead (remote/slip.ts)
 *     replica post this rank's hot replica (per-replica Slipstream: a window's start and end)
 *     sync   reconcile / average (bounds > 0) at a global barrier (evaluations, checkpoints)
 *     stop   the run ended (or the coordinator stopped): exit
 *
 * A worker never writes a run directory or a checkpoint: the coordinator checkpoints at global
 * barriers, and a resumed coordinator sends its restored state to the workers that join it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineError } from '../../../../pipeline/errors.js';
import { configHash } from '../../../../pipeline/hash.js';
import type { Rng } from '../../../../pipeline/rng.js';
import type { TrainConfig } from '../../config.js';
import { allocBatch } from '../../data/batch.js';
import { createEngine, type EngineKind } from '../../engine/engine.js';
import { closeInputs, openInputs } from '../../setup.js';
import { connectStore } from '../../store/connect.js';
import { parseStoreAddress, storeFingerprint, type BatchSource, type ColdStore, type StoreReport } from '../../store/index.js';
import { RedisTables } from '../../store/redis-tables.js';
import { Trainer } from '../../trainer.js';
import { runPartition } from '../partition.js';
import { batchSum } from './coordinator.js';
import { Link, parKey } from './link.js';
import { RankEngine } from './rank.js';
import { checkJoin, readRendezvous, resolveJoin } from './rendezvous.js';
import { decodeBatch, postReplica } from './slip.js';

export interface JoinOptions {
  /** run directory (with rendezvous.json) or run id */
  join: string;
  coldStore?: string;
  /** this host's copy of the preprocessed / segregated data (default: the coordinator's paths) */
  data?: string;
  hot?: string;
  /** a config to check against the coordinator's (default: train with the coordinator's) */
  config?: TrainConfig;
  engine?: EngineKind;
  threads?: number;
  /** seconds to wait for the rendezvous (default: the config's parallel.joinTimeoutSec, else 600) */
  waitSec?: number;
  log?: (msg: string) => void;
}

export interface JoinResult {
  rank: number;
  runId: string;
  steps: number;
  /** process CPU seconds spent in the coordinator's commands (steps, syncs, loads) */
  cpuSec: number;
  stopReason: string | null;
}

/** The cold store a worker's Trainer holds: nothing (its rows go through rank.ts); kind redis so the host tables stay untouched. */
const noCold = (): ColdStore => ({
  kind: 'redis',
  open: (_rng: Rng) => Promise.resolve(),
  wrap: (s: BatchSource) => s,
  ready: () => Promise.resolve(),
  gather: () => { throw new PipelineError('internal', 'worker cold store'); },
  update: () => { throw new PipelineError('internal', 'worker cold store'); },
  countHot: () => undefined,
  barrier: () => Promise.resolve(),
  evalSource: () => [],
  beforeCheckpoint: () => Promise.resolve(),
  afterRestore: () => Promise.resolve(),
  report: () => ({}) as StoreReport,
  close: () => Promise.resolve(),
});

/** Join a run and train as one of its ranks until the coordinator stops it. */
export async function joinRun(o: JoinOptions): Promise<JoinResult> {
  const log = o.log ?? ((m: string) => void process.stderr.write(`${m}\n`));
  const { runId, store } = resolveJoin(o.join, o.coldStore);
  const addr = parseStoreAddress(store);
  if (!addr) throw new PipelineError('bad_config', `hotcold worker: --cold-store ${store} is not a redis address (workers of a run share a redis cold store)`, { field: '--cold-store' });
  const client = await connectStore(addr);
  let link: Link | null = null;
  let writerClient: Awaited<ReturnType<typeof connectStore>> | null = null;
  let inputs: Awaited<ReturnType<typeof openInputs>> | null = null;
  try {
    // the rendezvous: a record in 'joining' state (a run that is running or ended: wait for its next attempt)
    const waitSec = o.waitSec ?? o.config?.parallel.joinTimeoutSec ?? 600;
    const t0 = performance.now();
    let rv = await readRendezvous(client, runId);
    let said = false;
    while (!rv || rv.status !== 'joining') {
      if ((performance.now() - t0) / 1000 > waitSec) {
        throw new PipelineError('worker_failed', `hotcold worker: run ${runId} at ${addr.spec} ${rv ? `is ${rv.status} (attempt ${rv.attempt}), not waiting for joins` : 'has no rendezvous record'} after ${waitSec}s`, {
          hint: 'start (or --resume) the coordinator: hotcold train … --workers K --set parallel.transport=redis --cold-store <same address>',
        });
      }
      if (!said) log(`worker: waiting for run ${runId} at ${addr.spec} to accept joins${rv ? ` (it is ${rv.status})` : ''}`);
      said = true;
      await new Promise((r) => setTimeout(r, 200));
      rv = await readRendezvous(client, runId);
    }
    const cfg = o.config ?? rv.config;
    const cfgHash = configHash(cfg);
    inputs = await openInputs(cfg, o.data ?? rv.dataDir, o.hot ?? rv.hotDir ?? undefined, { dataWorker: false });
    const dataHash = configHash({ data: inputs.data.fingerprint, hot: inputs.seg?.fingerprint ?? null });
    checkJoin(rv, cfgHash, dataHash, { fingerprint: inputs.data.fingerprint, hot: inputs.seg?.fingerprint ?? null, dir: o.data ?? rv.dataDir });
    // the graph partition before claiming a rank (its sync loops would starve the heartbeat); every rank computes the same one
    let owners: Uint8Array[] | null = null;
    if (cfg.parallel.partition === 'graph') {
      const dir = mkdtempSync(join(tmpdir(), 'hotcold-worker-partition-'));
      owners = (await runPartition({ cfg, inputs, out: dir, dataHash })).owners;
      rmSync(dir, { recursive: true, force: true });
      const h = configHash(owners.map((x) => Buffer.from(x).toString('base64')));
      if (h !== rv.partition) throw new PipelineError('mismatch', `hotcold worker: this rank's graph partition (${h}) differs from the coordinator's (${rv.partition})`, { hint: 'the same data, seed and parallel.partitionSample give the same partition: check the data copies' });
    }
    const K = rv.K;
    const rank = await client.incr(parKey(runId, `${rv.attempt}:ranks`));
    if (rank > K - 1) {
      throw new PipelineError('bad_config', `hotcold worker: run ${runId} (attempt ${rv.attempt}) already has its ${K} processes (this join drew rank ${rank})`, { hint: 'a run takes exactly parallel.workers processes: the coordinator and K − 1 workers' });
    }
    link = await Link.open(addr, runId, rv.attempt, rank, K, cfg.parallel.heartbeatSec);
    await link.startHeartbeat();
    await link.announce();
    await link.readMembers();
    log(`worker: joined run ${runId} (attempt ${rv.attempt}) as rank ${rank} of ${K}; data ${o.data ?? rv.dataDir}`);

    const threads = o.threads ?? 1;
    if (process.env.OPENBLAS_NUM_THREADS === undefined) process.env.OPENBLAS_NUM_THREADS = String(threads);
    const engine = createEngine(o.engine ?? 'auto', threads);
    const trainer = new Trainer(cfg, engine, inputs.tableSizes, inputs.hotMap, noCold);
    const tables = new RedisTables(link.client, addr, runId, { fingerprint: storeFingerprint(dataHash, cfg), dim: cfg.model.dim, opt: { ...cfg.optim.sparse }, sizes: inputs.tableSizes });
    writerClient = await connectStore(addr);
    const writer = new RedisTables(writerClient, addr, runId, tables.spec);
    const ranks = new RankEngine({ cfg, trainer, link, tables, writer, owners, splitter: { kind: cfg.parallel.partition, owners }, coordinator: false });
    const batch = allocBatch(cfg.train.batchSize);
    const tags = new Int32Array(cfg.train.batchSize);
    const pos = { cold: { epoch: -1, next: -1 }, hot: { epoch: -1, next: -1 } };
    let steps = 0;
    let seeded = false;
    let cpuSec = 0;
    let cpu0: NodeJS.CpuUsage | null = null;
    for (;;) {
      if (cpu0) {
        const c = process.cpuUsage(cpu0);
        cpuSec += (c.user + c.system) / 1e6;
      }
      const cmd = await link.nextCommand();
      cpu0 = process.cpuUsage();
      if (cmd.op === 'stop') {
        log(`worker: rank ${rank}: the coordinator ended the run after ${steps} steps${cmd.reason ? ` (${cmd.reason})` : ''}`);
        return { rank, runId, steps, cpuSec, stopReason: cmd.reason };
      }
      if (cmd.op === 'load') {
        if (!seeded) {
          const meta = await tables.check();
          if (!meta) throw new PipelineError('worker_failed', `hotcold worker: the store ${addr.spec} has no tables under '${runId}'`);
          tables.useSeeds(meta.seeds);
          writer.useSeeds(meta.seeds);
          seeded = true;
        }
        await link.readMembers();
        if (link.next !== cmd.n) throw new PipelineError('internal', `hotcold worker: rank ${rank} is at barrier ${link.next}, the coordinator's state was posted for ${cmd.n}`);
        ranks.loadState(await link.readBlob(cmd.n, 0, 'state', cmd.parts), cmd.step);
        await link.barrier();
        link.collect();
        continue;
      }
      if (cmd.op === 'sync') {
        await ranks.sync(cmd.n);
        continue;
      }
      if (cmd.op === 'replica') {
        const w = ranks.replica;
        if (!w) throw new PipelineError('mismatch', 'hotcold worker: the coordinator asks for the hot replica (per-replica Slipstream), this worker has no hot table');
        await postReplica(link, w);
        continue;
      }
      if (cmd.bn !== undefined && cmd.parts !== undefined) {
        // Slipstream: the filtered (re-batched) hot batch as rank 0 trains it
        const tagged = decodeBatch(await link.readBlob(cmd.bn, 0, 'batch', cmd.parts), batch, tags);
        if (batch.size !== cmd.B || batchSum(batch) !== cmd.sum) {
          throw new PipelineError('mismatch', `hotcold worker: the coordinator's posted batch for step ${cmd.n} does not match its checksum (${batch.size} rows; the coordinator's ${cmd.B})`);
        }
        await ranks.step(batch, cmd.hot, cmd.n, cmd.reconcile, cmd.average, tagged ? tags : null);
        steps++;
        continue;
      }
      const stream = cmd.hot ? inputs.hot : inputs.main;
      if (!stream) throw new PipelineError('mismatch', `hotcold worker: the coordinator trains a hot batch, this worker has no --hot data`);
      const p = cmd.hot ? pos.hot : pos.cold;
      if (p.epoch !== cmd.epoch || p.next !== cmd.idx) stream.start(cmd.epoch, cmd.idx);
      if (!(await stream.next(batch))) throw new PipelineError('mismatch', `hotcold worker: the ${cmd.hot ? 'hot' : 'cold'} stream ended before batch ${cmd.idx} of epoch ${cmd.epoch}`);
      p.epoch = cmd.epoch;
      p.next = cmd.idx + 1;
      if (batch.size !== cmd.B || batchSum(batch) !== cmd.sum) {
        throw new PipelineError('mismatch', `hotcold worker: batch ${cmd.idx} of the ${cmd.hot ? 'hot' : 'cold'} stream (epoch ${cmd.epoch}) differs from the coordinator's (${batch.size} rows, checksum ${batchSum(batch)}; the coordinator's ${cmd.B}, ${cmd.sum})`, {
          hint: 'the data copies differ although their fingerprints agree: copy the coordinator\'s data directories again',
        });
      }
      await ranks.step(batch, cmd.hot, cmd.n, cmd.reconcile, cmd.average);
      steps++;
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (link && !(e instanceof PipelineError && e.code === 'worker_failed')) await link.markFailed(msg);
    throw e;
  } finally {
    await link?.close();
    const wc = writerClient;
    if (wc) await wc.quit().catch(() => wc.disconnect());
    if (inputs) await closeInputs(inputs);
    await client.quit().catch(() => client.disconnect());
  }
}
