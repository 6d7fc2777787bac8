/**
 * `npm run bench:predict`: scoring throughput of `hotcold predict` / `evaluate` on the Kaggle
 * reference model (13-512-256-64-16 / 512-256-1, dim 16), beside PyTorch's forward of the same
 * exported weights on the same batch (the peer, same invocation; skipped without torch).
 *
 *     evaluate   split → probabilities in memory → metrics (forward + gather + shard decode)
 *     predict    the same + CSV `row,label,probability` written to disk
 *     torch      DLRM forward + sigmoid of one batch (bench/predict_torch.py), no I/O
 *
 *     hotcold predict  the CLI as a user runs it (node bin/hotcold.js: start-up, model load,
 *                  shard checks, scoring, CSV, exit); CPU-s from /usr/bin/time when present
 *
 * Configurations `T x W`: T OpenBLAS threads × W scoring workers (stages/train/predict/pool.ts);
 * the last column says whether the CSV is byte-identical to the 1×1 one (workers keep it, OpenBLAS
 * threads do not). The PyTorch peer runs with T×W threads. Run `npm run build` first (the CLI).
 *
 * Target (issue 14): predict ≥ 200k rows/s. Env: BENCH_PREDICT_ROWS (default 600000),
 * BENCH_PREDICT_DIR (default os.tmpdir()/hotcold-bench-predict), BENCH_REPEAT (default 3),
 * BENCH_CONFIGS (default "1x1,1x2,2x1"), BENCH_BATCH (default 8192).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPreprocessed } from '../datasets/preprocessed.js';
import { loadTrainConfig } from '../stages/train/config.js';
import { createEngine } from '../stages/train/engine/engine.js';
import { runExport } from '../stages/train/export/index.js';
import { splitBatches } from '../stages/train/predict/inputs.js';
import { runEvaluate, runPredict } from '../stages/train/predict/index.js';
import { train } from '../stages/train/train.js';
import { median } from './args.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_PREDICT_ROWS ?? 600_000);
const DIR = process.env.BENCH_PREDICT_DIR ?? join(tmpdir(), 'hotcold-bench-predict');
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
/** BLAS threads × scoring workers, e.g. "1x1,1x2,2x1" */
const CONFIGS = (process.env.BENCH_CONFIGS ?? '1x1,1x2,2x1').split(',').map((c) => {
  const [threads, workers] = c.split('x').map(Number);
  return { threads: threads!, workers: workers! };
});
const BIN = join(import.meta.dirname, '..', 'bin', 'hotcold.js');
const HAS_TIME = existsSync('/usr/bin/time');
const BATCH = Number(process.env.BENCH_BATCH ?? 8192);
const log = (s: string): void => void process.stdout.write(`${s}\n`);

log(`bench:predict — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const data = await prepareBenchData(DIR, ROWS, 7, 64 << 20, log);
const run = join(DIR, 'run-kaggle');
// weights do not change the cost of a forward pass: a few batches of training is enough
await train({ config: loadTrainConfig('configs/baseline.json', ['train.maxBatches=5', 'train.evalEvery=0']), data: data.dataDir, out: run, quiet: true });
const rows = openPreprocessed(data.dataDir).splits.train.rows;
log(`model: Kaggle 13-512-256-64-16 / 512-256-1, dim 16; scoring the train split (${rows} rows), batch ${BATCH}, median of ${REPEAT}`);
log('| what | threads | rows/s wall | CPU-s per 1M rows | wall vs torch (same cores) | output vs 1×1 |');
log('|---|---|---|---|---|---|');

const exp = join(DIR, 'export');
await runExport({ run, out: exp, format: 'safetensors' });
const batchFile = join(DIR, 'batch.bin');
{
  const b = (await splitBatches(data.dataDir, openPreprocessed(data.dataDir), 'train', BATCH).next()).value!;
  const buf = Buffer.alloc(4 + 4 * b.size * 39);
  buf.writeUInt32LE(b.size, 0);
  Buffer.from(b.dense.buffer, 0, 4 * b.size * 13).copy(buf, 4);
  Buffer.from(b.cats.buffer, 0, 4 * b.size * 26).copy(buf, 4 + 4 * b.size * 13);
  writeFileSync(batchFile, buf);
}
const hasTorch = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

const cpuSec = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;
const torchRps = new Map<number, number>();
for (const t of [...new Set(CONFIGS.map((c) => c.workers * c.threads))]) {
  if (!hasTorch) break;
  const out = execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'predict_torch.py'), join(exp, 'model.safetensors'), batchFile, String(t), '7'], { encoding: 'utf8' });
  torchRps.set(t, (JSON.parse(out) as { rows_per_sec: number }).rows_per_sec);
}
const vs = (x: number, cores: number): string => (hasTorch ? `${(x / torchRps.get(cores)!).toFixed(2)}×` : 'torch absent');
const refCsv = join(DIR, 'pred-ref.csv');
await runPredict({ run, split: 'train', batchSize: BATCH, out: refCsv });
const ref = readFileSync(refCsv);
for (const { threads, workers } of CONFIGS) {
  const cores = threads * workers;
  const ev: number[] = [];
  const pr: number[] = [];
  const evCpu: number[] = [];
  const prCpu: number[] = [];
  const cli: number[] = [];
  const cliCpu: number[] = [];
  let same = true;
  for (let r = 0; r < REPEAT; r++) {
    let c0 = process.cpuUsage();
    const e = await runEvaluate({ run, split: 'train', threads, workers, batchSize: BATCH });
    evCpu.push(cpuSec(process.cpuUsage(c0)) / e.metrics.rows * 1e6);
    ev.push(e.metrics.rows / e.sec);
    c0 = process.cpuUsage();
    const out = join(DIR, 'pred.csv');
    const p = await runPredict({ run, split: 'train', threads, workers, batchSize: BATCH, out });
    prCpu.push(cpuSec(process.cpuUsage(c0)) / p.rows * 1e6);
    pr.push(p.rows / p.sec);
    same &&= readFileSync(out).equals(ref);
    // the whole process: start-up, model load, shard verification, scoring, CSV, exit
    const argv = [process.execPath, BIN, 'predict', '--run', run, '--split', 'train', '--threads', String(threads), '--workers', String(workers), '--batch-size', String(BATCH), '--out', out];
    const t0 = performance.now();
    const child = HAS_TIME ? spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', ...argv], { encoding: 'utf8' }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    const wall = (performance.now() - t0) / 1000;
    if (child.status !== 0) throw new Error(`hotcold predict failed: ${child.stderr}`);
    cli.push(rows / wall);
    const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(child.stderr);
    cliCpu.push(m ? Number(m[1]) + Number(m[2]) : NaN);
    same &&= readFileSync(out).equals(ref);
  }
  const tag = `${threads} BLAS × ${workers} worker${workers > 1 ? 's' : ''}`;
  log(`| in-process evaluate (split → metrics) | ${tag} | ${Math.round(median(ev))} | ${median(evCpu).toFixed(1)} | ${vs(median(ev), cores)} | |`);
  log(`| in-process predict (split → CSV) | ${tag} | ${Math.round(median(pr))} | ${median(prCpu).toFixed(1)} | ${vs(median(pr), cores)} | ${same ? 'identical' : 'DIFFERS'} |`);
  log(`| \`hotcold predict\` whole process | ${tag} | ${Math.round(median(cli))} | ${Number.isNaN(median(cliCpu)) ? '—' : (median(cliCpu) / rows * 1e6).toFixed(1)} | ${vs(median(cli), cores)} | |`);
}
const bound = gemmBound(BATCH);
log(`| the Kaggle model's GEMMs alone (7 sgemm calls, M = ${BATCH}, no gather, interaction or ReLU) | 1 BLAS | ${Math.round(bound.rowsPerSec)} | ${(1e6 / bound.rowsPerCpuSec).toFixed(1)} | — | ${bound.gflopsCpu.toFixed(0)} GFLOP per CPU-s (${bound.detail}) |`);
for (const [t, r] of torchRps) log(`| PyTorch forward + sigmoid, one batch, no I/O | ${t} thread${t > 1 ? 's' : ''} | ${Math.round(r)} | — | 1.00× | |`);
log(`load after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);

/** rows/s (wall) and rows per CPU-s of the Kaggle model's forward GEMMs alone on one OpenBLAS thread (median of 5): the per-core ceiling. */
function gemmBound(B: number): { rowsPerSec: number; rowsPerCpuSec: number; gflopsCpu: number; detail: string } {
  const e = createEngine('auto', 1);
  const shapes = [[13, 512], [512, 256], [256, 64], [64, 16], [367, 512], [512, 256], [256, 1]] as const;
  const bufs = shapes.map(([I, O]) => ({ I, O, x: new Float32Array(B * I).fill(0.5), w: new Float32Array(O * I).fill(0.01), y: new Float32Array(B * O) }));
  const cpu: number[] = [];
  const once = (): number => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (const { I, O, x, w, y } of bufs) e.sgemm(false, true, B, O, I, 1, x, I, w, I, 0, y, O);
    cpu.push(cpuSec(process.cpuUsage(c0)));
    return (performance.now() - t0) / 1000;
  };
  once();
  cpu.length = 0;
  const sec = median(Array.from({ length: 5 }, once));
  const cpuS = median(cpu);
  const flop = shapes.reduce((a, [I, O]) => a + 2 * I * O, 0) * B;
  return { rowsPerSec: B / sec, rowsPerCpuSec: B / cpuS, gflopsCpu: flop / cpuS / 1e9, detail: e.detail.split(',')[0]! };
}
