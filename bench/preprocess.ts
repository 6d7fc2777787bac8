/**
 * Preprocess throughput: write a 1M-row Criteo-like TSV (the project's synthetic
 * generator when present, else a small skewed writer below), then time
 * `hotcold preprocess` (Kaggle split) on it, next to `wc -l` on the same file.
 *
 *     npm run bench:preprocess [-- --rows 1000000 --runs 3 --keep]
 *     npm run bench:preprocess -- --vocab-memory   (vocabulary memory at full Kaggle scale)
 *
 * Prints the median of the runs in rows/s and MB/s, and the ratio to `wc -l`.
 */
import { execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KAGGLE_CARDINALITIES } from '../datasets/criteo/constants.js';
import { quietSink } from '../pipeline/progress.js';
import { Rng } from '../pipeline/rng.js';
import { createRowBatch, DEFAULT_BATCH_ROWS } from '../datasets/criteo/batch.js';
import { run } from '../stages/preprocess/index.js';
import { Categorify } from '../stages/preprocess/ops/categorify.js';
import { arg, flag, median } from './args.js';

const ROWS = Number(arg('rows', '1000000'));
const RUNS = Number(arg('runs', '3'));
const KEEP = flag('keep');

/**
 * Fallback writer: Criteo layout, per-feature cardinality ∝ Kaggle's (scaled to
 * the row count), power-law popularity, ~15 % empty cells, CTR ≈ 25 %.
 */
async function writeSkewedTsv(path: string, rows: number, seed: number): Promise<void> {
  const rng = new Rng(seed);
  const scale = rows / 45_840_617;
  const cards = KAGGLE_CARDINALITIES.map((c) => Math.max(2, Math.ceil(c * Math.max(scale, 0.02))));
  const salt = cards.map((_, f) => Math.imul(f + 1, 0x9e3779b1) >>> 0);
  const out = createWriteStream(path, { highWaterMark: 1 << 22 });
  let buf = '';
  for (let r = 0; r < rows; r++) {
    let line = rng.float() < 0.25 ? '1' : '0';
    for (let i = 0; i < 13; i++) {
      line += '\t';
      if (rng.float() < 0.2) continue;
      line += String(Math.floor(Math.exp(rng.normal() * 1.8 + 1)) - (i === 1 ? 2 : 0));
    }
    for (let f = 0; f < 26; f++) {
      line += '\t';
      if (rng.float() < 0.12) continue;
      const idx = Math.floor(cards[f]! * rng.float() ** 4);
      const v = (Math.imul(idx + 1, 0x85ebca6b) ^ salt[f]!) >>> 0;
      line += v.toString(16).padStart(8, '0');
    }
    buf += line + '\n';
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await new Promise<void>((res) => out.once('drain', () => res()));
      buf = '';
    }
  }
  out.write(buf);
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
}

async function writeInput(path: string): Promise<string> {
  const synth = join(import.meta.dirname, '..', 'datasets', 'synthetic', 'index.ts');
  if (existsSync(synth)) {
    try {
      type Gen = (o: { rows: number; seed: number; out: string; force?: boolean; progress?: typeof quietSink }) => Promise<unknown>;
      const mod = (await import(synth)) as { generateToFile?: Gen };
      if (typeof mod.generateToFile === 'function') {
        await mod.generateToFile({ rows: ROWS, seed: 7, out: path, force: true, progress: quietSink });
        return 'datasets/synthetic generateToFile (default scale)';
      }
    } catch (e) {
      process.stderr.write(`bench: synthetic generator not usable (${(e as Error).message}); using the fallback writer\n`);
    }
  }
  await writeSkewedTsv(path, ROWS, 7);
  return 'bench fallback skewed writer';
}

/**
 * Vocabulary memory at full Kaggle scale: feed every distinct value of every
 * feature (33.8M in all, per KAGGLE_CARDINALITIES) through Categorify once, plus
 * repeats, and report the resident memory. The budget is 8 GiB for the whole stage.
 */
function vocabMemory(): void {
  const cat = new Categorify({ maxIndRange: 0 });
  const batch = createRowBatch(DEFAULT_BATCH_ROWS);
  const out = Array.from({ length: 26 }, () => new Int32Array(DEFAULT_BATCH_ROWS));
  const maxCard = Math.max(...KAGGLE_CARDINALITIES);
  const rss0 = process.memoryUsage().rss;
  const t = performance.now();
  batch.catPresent.fill(1);
  for (let start = 0; start < maxCard; start += DEFAULT_BATCH_ROWS) {
    const n = Math.min(DEFAULT_BATCH_ROWS, maxCard - start);
    for (let f = 0; f < 26; f++) {
      const card = KAGGLE_CARDINALITIES[f]!;
      const base = f * batch.capacity;
      // value k of feature f: a scrambled 32-bit id; rows past the cardinality repeat values
      for (let r = 0; r < n; r++) batch.cats[base + r] = Math.imul(((start + r) % card) + 1, 0x9e3779b1) ^ (f * 0x01000193);
    }
    batch.rows = n;
    cat.fit(out, 0, batch);
  }
  const distinct = cat.distinct().reduce((a, b) => a + b, 0);
  const rss = process.memoryUsage().rss;
  const vocab = cat.finalize(2);
  const rssFinal = process.memoryUsage().rss;
  console.log(
    `vocabulary at Kaggle scale: ${distinct} distinct values (26 × ${maxCard} cells) in ${((performance.now() - t) / 1000).toFixed(1)}s; ` +
      `RSS +${((rss - rss0) / 2 ** 30).toFixed(2)} GiB after fit, ${(rssFinal / 2 ** 30).toFixed(2)} GiB total after finalize (${vocab.length} tables)`,
  );
}

if (flag('vocab-memory')) {
  vocabMemory();
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'hotcold-bench-pre-'));
try {
  const input = join(dir, 'train.tsv');
  const tGen = performance.now();
  const source = await writeInput(input);
  const bytes = statSync(input).size;
  console.log(`input: ${ROWS} rows, ${(bytes / 1e6).toFixed(1)} MB from ${source} (${((performance.now() - tGen) / 1000).toFixed(1)}s)`);

  const wc: number[] = [];
  const modes = [
    { name: 'worker thread (2 cores)', parallel: true, wall: [] as number[], cpu: [] as number[] },
    { name: 'one thread', parallel: false, wall: [] as number[], cpu: [] as number[] },
  ];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    execFileSync('wc', ['-l', input]);
    wc.push((performance.now() - t) / 1000);
    for (const m of modes) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await run({ inputs: [input], out: join(dir, 'out'), options: { split: 'kaggle' }, force: true, parallel: m.parallel }, { progress: quietSink });
      m.wall.push((performance.now() - t0) / 1000);
      const cu = process.cpuUsage(c0);
      m.cpu.push((cu.user + cu.system) / 1e6);
      if (r.manifest.rowsRead !== ROWS) throw new Error(`expected ${ROWS} rows, read ${r.manifest.rowsRead}`);
    }
  }
  const w = median(wc);
  for (const m of modes) {
    const p = median(m.wall);
    console.log(
      `preprocess, kaggle split, TSV → shards, ${m.name}, median of ${RUNS}: ${p.toFixed(2)}s  ` +
        `${(ROWS / p / 1e6).toFixed(2)}M rows/s  ${(bytes / p / 1e6).toFixed(0)} MB/s  ` +
        `(CPU ${median(m.cpu).toFixed(2)}s = ${(median(m.cpu) / (ROWS / 1e6)).toFixed(2)}s per 1M rows, all threads; ${(p / w).toFixed(0)}× wc -l)`,
    );
  }
  console.log(`wc -l on the same file, median of ${RUNS}: ${w.toFixed(3)}s  ${(bytes / w / 1e6).toFixed(0)} MB/s`);
  console.log(`runs (s): ${modes.map((m) => `${m.name}: ${m.wall.map((x) => x.toFixed(2)).join(' ')}`).join(' | ')} | wc ${wc.map((x) => x.toFixed(3)).join(' ')}`);
  const load = (await import('node:os')).loadavg()[0]!;
  console.log(`machine load average (1 min) at the end: ${load.toFixed(1)} on ${(await import('node:os')).cpus().length} cores`);
} finally {
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
