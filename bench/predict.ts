/**
 * `npm run bench:predict`: scoring throughput of `hotcold predict` / `evaluate` on the Kaggle
 * reference model (13-512-256-64-16 / 512-256-1, dim 16), beside PyTorch's forward of the same
 * exported weights on the same batch (the peer, same invocation; skipped without torch).
 *
 *     evaluate   split → probabilities in memory → metrics (forward + gather + shard decode)
 *     predict    the same + CSV `row,label,probability` written to disk
 *     torch      DLRM forward + sigmoid of one batch (bench/predict_torch.py), no I/O
 *
 * Target (issue 14): predict ≥ 200k rows/s. Env: BENCH_PREDICT_ROWS (default 600000),
 * BENCH_PREDICT_DIR (default os.tmpdir()/hotcold-bench-predict), BENCH_REPEAT (default 3),
 * BENCH_THREADS (default "1,2"), BENCH_BATCH (default 8192).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPreprocessed } from '../datasets/preprocessed.js';
import { loadTrainConfig } from '../stages/train/config.js';
import { runExport } from '../stages/train/export/index.js';
import { splitBatches } from '../stages/train/predict/inputs.js';
import { runEvaluate, runPredict } from '../stages/train/predict/index.js';
import { train } from '../stages/train/train.js';
import { median } from './args.js';
import { prepareBenchData } from './train-data.js';

const ROWS = Number(process.env.BENCH_PREDICT_ROWS ?? 600_000);
const DIR = process.env.BENCH_PREDICT_DIR ?? join(tmpdir(), 'hotcold-bench-predict');
const REPEAT = Number(process.env.BENCH_REPEAT ?? 3);
const THREADS = (process.env.BENCH_THREADS ?? '1,2').split(',').map(Number);
const BATCH = Number(process.env.BENCH_BATCH ?? 8192);
const log = (s: string): void => void process.stdout.write(`${s}\n`);

log(`bench:predict — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
const data = await prepareBenchData(DIR, ROWS, 7, 64 << 20, log);
const run = join(DIR, 'run-kaggle');
// weights do not change the cost of a forward pass: a few batches of training is enough
await train({ config: loadTrainConfig('configs/baseline.json', ['train.maxBatches=5', 'train.evalEvery=0']), data: data.dataDir, out: run, quiet: true });
const rows = openPreprocessed(data.dataDir).splits.train.rows;
log(`model: Kaggle 13-512-256-64-16 / 512-256-1, dim 16; scoring the train split (${rows} rows), batch ${BATCH}, median of ${REPEAT}`);
log('| what | threads | rows/s wall | rows per CPU-s | wall vs torch (same threads) |');
log('|---|---|---|---|---|');

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

for (const threads of THREADS) {
  let torchRps = NaN;
  if (hasTorch) {
    const out = execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'predict_torch.py'), join(exp, 'model.safetensors'), batchFile, String(threads), '7'], { encoding: 'utf8' });
    torchRps = (JSON.parse(out) as { rows_per_sec: number }).rows_per_sec;
  }
  const ev: number[] = [];
  const pr: number[] = [];
  const evCpu: number[] = [];
  const prCpu: number[] = [];
  const cpuSec = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1e6;
  for (let r = 0; r < REPEAT; r++) {
    let c0 = process.cpuUsage();
    const e = await runEvaluate({ run, split: 'train', threads, batchSize: BATCH });
    evCpu.push(e.metrics.rows / cpuSec(process.cpuUsage(c0)));
    ev.push(e.metrics.rows / e.sec);
    c0 = process.cpuUsage();
    const p = await runPredict({ run, split: 'train', threads, batchSize: BATCH, out: join(DIR, 'pred.csv') });
    prCpu.push(p.rows / cpuSec(process.cpuUsage(c0)));
    pr.push(p.rows / p.sec);
  }
  const vs = (x: number): string => (Number.isNaN(torchRps) ? 'torch absent' : `${(x / torchRps).toFixed(2)}×`);
  log(`| hotcold evaluate (split → metrics) | ${threads} | ${Math.round(median(ev))} | ${Math.round(median(evCpu))} | ${vs(median(ev))} |`);
  log(`| hotcold predict (split → CSV) | ${threads} | ${Math.round(median(pr))} | ${Math.round(median(prCpu))} | ${vs(median(pr))} |`);
  log(`| PyTorch ${hasTorch ? '' : '(absent) '}forward + sigmoid, one batch | ${threads} | ${Number.isNaN(torchRps) ? '—' : Math.round(torchRps)} | — | 1.00× |`);
}
log(`load after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
