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
 * The GEMM ceiling (bench/gemm-ceiling.ts), measured in the same run before and after the
 * configurations: the model's forward GEMMs at M = the batch size through native/blas on one
 * thread alone and on two threads at once, their GFLOP/s, the FLOPs per row (Σ 2·I·O) and the
 * rows/s a predict doing nothing but those GEMMs would reach; each whole-process row then says
 * what fraction of the ceiling for its cores it reached (wall) and per CPU-second (rows per
 * CPU-s ÷ the one-thread ceiling). The PyTorch peer also times the same GEMMs (x @ Wᵀ).
 * A whole-process run on the raw file (`--input`, the TSV the dataset was made from) is timed too.
 *
 * BENCH_PREDICT_BASELINE=/other/checkout/bin/hotcold.js runs every whole-process row with that
 * build too, interleaved (a before/after comparison under the same load; the baseline must read
 * the same run and dataset).
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
import { parseArch } from '../stages/train/model/arch.js';
import { runExport } from '../stages/train/export/index.js';
import { splitBatches } from '../stages/train/predict/inputs.js';
import { runEvaluate, runPredict } from '../stages/train/predict/index.js';
import { train } from '../stages/train/train.js';
import { median } from './args.js';
import { forwardGemms, gemmFlopsPerRow, measureGemmCeiling, type CeilingRun } from './gemm-ceiling.js';
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
const cfg = loadTrainConfig('configs/baseline.json', []);
const shape = parseArch(cfg.model.mlpBot, cfg.model.mlpTop, cfg.model.dim);
const gemms = forwardGemms(shape);
const flopsPerRow = gemmFlopsPerRow(gemms);
const ceilings: CeilingRun[][] = [];
const measureCeilings = async (): Promise<void> => void ceilings.push([await measureGemmCeiling(gemms, BATCH, 1), await measureGemmCeiling(gemms, BATCH, 2)]);
await measureCeilings();
log(`model: Kaggle ${shape.bot.join('-')} / ${shape.top.join('-')}, dim ${shape.dim}; scoring the train split (${rows} rows), batch ${BATCH}, median of ${REPEAT}`);

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
const torchGemm = new Map<number, number>();
for (const t of [...new Set(CONFIGS.map((c) => c.workers * c.threads))]) {
  if (!hasTorch) break;
  // OpenBLAS (under torch's generic BLAS) takes its own thread count, not torch.set_num_threads'
  const env = { ...process.env, OPENBLAS_NUM_THREADS: String(t), OMP_NUM_THREADS: String(t) };
  const out = execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'predict_torch.py'), join(exp, 'model.safetensors'), batchFile, String(t), '7'], { encoding: 'utf8', env });
  const j = JSON.parse(out) as { rows_per_sec: number; gemm_rows_per_sec: number };
  torchRps.set(t, j.rows_per_sec);
  torchGemm.set(t, j.gemm_rows_per_sec);
}
const vs = (x: number, cores: number): string => (hasTorch ? `${(x / torchRps.get(cores)!).toFixed(2)}×` : 'torch absent');
const tsv = join(DIR, 'synthetic.tsv');
const tsvRows = openPreprocessed(data.dataDir).rowsRead;
const refCsv = join(DIR, 'pred-ref.csv');
await runPredict({ run, split: 'train', batchSize: BATCH, out: refCsv });
const ref = readFileSync(refCsv);
const ceil = (cores: number): number => median(ceilings.map((c) => c[Math.min(cores, 2) - 1]!.rowsPerSec));
const ceilCpu = (): number => median(ceilings.map((c) => c[0]!.rowsPerCpuSec));
const frac = (rps: number, rpcpu: number, cores: number): string => `${(100 * rps / ceil(cores)).toFixed(0)} % wall, ${(100 * rpcpu / ceilCpu()).toFixed(0)} % per CPU-s`;
const BASELINE = process.env.BENCH_PREDICT_BASELINE;
/** the CLI as a user runs it; [rows/s wall, CPU-s] */
function wholeProcess(args: string[], n: number, bin = BIN): [number, number] {
  const argv = [process.execPath, bin, 'predict', ...args];
  const t0 = performance.now();
  const child = HAS_TIME ? spawnSync('/usr/bin/time', ['-f', 'cpu %U %S', ...argv], { encoding: 'utf8' }) : spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (child.status !== 0) throw new Error(`hotcold predict failed: ${child.stderr}`);
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(child.stderr);
  return [n / wall, m ? Number(m[1]) + Number(m[2]) : NaN];
}
const lines: string[] = [];
for (const { threads, workers } of CONFIGS) {
  const cores = threads * workers;
  const ev: number[] = [];
  const pr: number[] = [];
  const evCpu: number[] = [];
  const prCpu: number[] = [];
  const cli: number[] = [];
  const cliCpu: number[] = [];
  const raw: number[] = [];
  const rawCpu: number[] = [];
  const base: { cli: number[]; cliCpu: number[]; raw: number[]; rawCpu: number[] } = { cli: [], cliCpu: [], raw: [], rawCpu: [] };
  let same = true;
  let baseSame = true;
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
    const common = ['--run', run, '--data', data.dataDir, '--threads', String(threads), '--workers', String(workers), '--batch-size', String(BATCH)];
    const [w, c] = wholeProcess([...common, '--split', 'train', '--out', out], rows);
    cli.push(w);
    cliCpu.push(c);
    same &&= readFileSync(out).equals(ref);
    // the same on the raw TSV (parse + vocabulary lookup instead of shard decoding)
    const [rw, rc] = wholeProcess([...common, '--input', tsv, '--out', join(DIR, 'pred-raw.csv')], tsvRows);
    raw.push(rw);
    rawCpu.push(rc);
    if (BASELINE) {
      const [bw, bc] = wholeProcess([...common, '--split', 'train', '--out', join(DIR, 'pred-base.csv')], rows, BASELINE);
      base.cli.push(bw);
      base.cliCpu.push(bc);
      baseSame &&= readFileSync(join(DIR, 'pred-base.csv')).equals(readFileSync(out));
      const [bw2, bc2] = wholeProcess([...common, '--input', tsv, '--out', join(DIR, 'pred-base-raw.csv')], tsvRows, BASELINE);
      base.raw.push(bw2);
      base.rawCpu.push(bc2);
      baseSame &&= readFileSync(join(DIR, 'pred-base-raw.csv')).equals(readFileSync(join(DIR, 'pred-raw.csv')));
    }
  }
  const tag = `${threads} BLAS × ${workers} worker${workers > 1 ? 's' : ''}`;
  const perM = (cpu: number[], n: number): string => (Number.isNaN(median(cpu)) ? '—' : (median(cpu) / n * 1e6).toFixed(1));
  const ceilCol = (rps: number, cpu: number[], n: number): string => (Number.isNaN(median(cpu)) ? '—' : frac(rps, n / median(cpu), cores));
  lines.push(`| in-process evaluate (split → metrics) | ${tag} | ${Math.round(median(ev))} | ${median(evCpu).toFixed(1)} | ${vs(median(ev), cores)} | ${frac(median(ev), 1e6 / median(evCpu), cores)} | |`);
  lines.push(`| in-process predict (split → CSV) | ${tag} | ${Math.round(median(pr))} | ${median(prCpu).toFixed(1)} | ${vs(median(pr), cores)} | ${frac(median(pr), 1e6 / median(prCpu), cores)} | ${same ? 'identical' : 'DIFFERS'} |`);
  lines.push(`| \`hotcold predict --split train\` whole process | ${tag} | ${Math.round(median(cli))} | ${perM(cliCpu, rows)} | ${vs(median(cli), cores)} | ${ceilCol(median(cli), cliCpu, rows)} | |`);
  lines.push(`| \`hotcold predict --input <raw TSV>\` whole process (${tsvRows} rows) | ${tag} | ${Math.round(median(raw))} | ${perM(rawCpu, tsvRows)} | ${vs(median(raw), cores)} | ${ceilCol(median(raw), rawCpu, tsvRows)} | |`);
  if (BASELINE) {
    const out = baseSame ? 'identical to this build' : 'DIFFERS from this build';
    lines.push(`| baseline build: \`hotcold predict --split train\` whole process | ${tag} | ${Math.round(median(base.cli))} | ${perM(base.cliCpu, rows)} | ${vs(median(base.cli), cores)} | ${ceilCol(median(base.cli), base.cliCpu, rows)} | ${out} |`);
    lines.push(`| baseline build: \`hotcold predict --input <raw TSV>\` whole process | ${tag} | ${Math.round(median(base.raw))} | ${perM(base.rawCpu, tsvRows)} | ${vs(median(base.raw), cores)} | ${ceilCol(median(base.raw), base.rawCpu, tsvRows)} | ${out} |`);
  }
}
await measureCeilings();
log(`GEMM ceiling: the forward's ${gemms.length} sgemm calls (${gemms.map((g) => `${g.I}×${g.O}`).join(', ')}) at M = ${BATCH}, native/blas, one OpenBLAS thread per worker thread, 2 s each, measured before and after the rows below`);
log(`  FLOPs per row: ${flopsPerRow} (bottom ${shape.bot.join('-')}: ${gemmFlopsPerRow(gemms.filter((g) => g.name.startsWith('bot')))}; top ${shape.top.join('-')}: ${gemmFlopsPerRow(gemms.filter((g) => g.name.startsWith('top')))}; bias, ReLU and the interaction's ${2 * shape.dim * ((shape.numTables + 1) * shape.numTables / 2)} not counted)`);
log('| GEMMs only | threads | GFLOP/s (before; after) | ceiling rows/s wall (before; after) | ceiling rows per CPU-s | vs alone |');
log('|---|---|---|---|---|---|');
for (const k of [0, 1]) {
  const g = ceilings.map((c) => c[k]!.gflops.map((x) => x.toFixed(1)).join(' + ')).join('; ');
  const r = ceilings.map((c) => Math.round(c[k]!.rowsPerSec)).join('; ');
  const cpu = k === 0 ? ceilings.map((c) => Math.round(c[0]!.rowsPerCpuSec)).join('; ') : '—';
  const ratio = ceilings.map((c) => (c[k]!.rowsPerSec / c[0]!.rowsPerSec).toFixed(2)).join('; ');
  log(`| ${k === 0 ? 'alone' : 'two at once'} | ${k + 1} | ${g} | ${r} | ${cpu} | ${ratio}× |`);
}
const per = ceilings[0]![0]!.perGemm;
log(`  one thread, per GEMM (ms, before): ${gemms.map((g, i) => `${g.name} ${(per[i]! * 1000).toFixed(2)} (${(2 * g.I * g.O * BATCH / per[i]! / 1e9).toFixed(0)} GFLOP/s)`).join(', ')}; ${ceilings[0]![0]!.detail}`);
log('');
log('| what | threads | rows/s wall | CPU-s per 1M rows | wall vs torch (same cores) | of the GEMM ceiling (same cores) | output vs 1×1 |');
log('|---|---|---|---|---|---|---|');
for (const l of lines) log(l);
for (const [t, r] of torchRps) {
  log(`| PyTorch forward + sigmoid, one batch, no I/O | ${t} thread${t > 1 ? 's' : ''} | ${Math.round(r)} | — | 1.00× | ${(100 * r / ceil(t)).toFixed(0)} % wall | |`);
  log(`| PyTorch, the same GEMMs only (x @ Wᵀ) | ${t} thread${t > 1 ? 's' : ''} | ${Math.round(torchGemm.get(t)!)} | — | — | ${(100 * torchGemm.get(t)! / ceil(t)).toFixed(0)} % wall | |`);
}
log(`target 200,000 rows/s: ${(200_000 * flopsPerRow / 1e9).toFixed(0)} GFLOP/s of GEMMs alone, ${(200_000 / ceil(2)).toFixed(1)}× this machine's two-thread GEMM ceiling`);
log(`load after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
