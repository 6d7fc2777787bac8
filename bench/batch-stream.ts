/**
 * CPU per training batch of the data path alone (shard read + decode + shuffle + batch assembly),
 * in the training thread (`ShardStream`) and on the data worker (`WorkerStream`), interleaved,
 * on the generated set of `bench:peer`'s end-to-end section (built when absent).
 *
 *     npx tsx bench/batch-stream.ts [--rows 2000000] [--batches 300] [--reps 3] [--batch 2048]
 *
 * CPU is the whole process's (the worker thread's included); the first 8 batches of each run are
 * not timed (the worker's start-up, and under tsx its TypeScript compile, happen then).
 */
import os from 'node:os';
import { join } from 'node:path';
import { openPreprocessed } from '../datasets/preprocessed.js';
import { allocBatch } from '../stages/train/data/batch.js';
import { ShardStream } from '../stages/train/data/shard-stream.js';
import { WorkerStream } from '../stages/train/data/worker-stream.js';
import { arg, median } from './args.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(arg('rows', '2000000'));
const N = Number(arg('batches', '300'));
const REPS = Number(arg('reps', '3'));
const B = Number(arg('batch', '2048'));
const WARM = 8;
const log = (s: string): void => void process.stdout.write(`${s}\n`);

const load = (): string => os.loadavg().map((x) => x.toFixed(2)).join(' ');
log(`bench batch-stream — ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}; load average ${load()}`);
const data = await prepareBenchData(join(os.tmpdir(), 'hotcold-bench-peer', `rows-${ROWS}`), ROWS, 7, 64 << 20, (s) => log(`  ${s}`));
const m = openPreprocessed(data.dataDir);
const paths = m.splits.train.shards.map((s) => join(data.dataDir, s.file));
const rows = m.splits.train.shards.map((s) => s.rows);
const cpu = (): number => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e3;
};
const res: Record<string, { cpu: number[]; wall: number[] }> = { 'in-thread': { cpu: [], wall: [] }, 'data worker': { cpu: [], wall: [] } };
for (let rep = 0; rep < REPS; rep++) {
  for (const kind of Object.keys(res)) {
    const opts = { batchSize: B, shuffle: true, seed: 1 + rep, salt: 1 };
    const s = kind === 'in-thread' ? new ShardStream(paths, rows, opts) : new WorkerStream(paths, rows, opts);
    const b = allocBatch(B);
    s.start(0, 0);
    let n = 0;
    let c0 = 0;
    let t0 = 0;
    while (n < WARM + N && (await s.next(b))) {
      if (++n === WARM) {
        c0 = cpu();
        t0 = performance.now();
      }
    }
    const k = n - WARM;
    res[kind]!.cpu.push((cpu() - c0) / k);
    res[kind]!.wall.push((performance.now() - t0) / k);
    if (s instanceof WorkerStream) await s.close();
  }
}
for (const [k, v] of Object.entries(res)) {
  log(`  ${k.padEnd(12)} ${median(v.cpu).toFixed(2)} ms CPU per batch of ${B} (process), ${median(v.wall).toFixed(2)} ms wall; medians of ${REPS} × ${N} batches`);
}
log(`load average at the end ${load()}`);
