/**
 * Preprocess throughput: write a 1M-row Criteo-like TSV (the project's synthetic
 * generator when present, else a small skewed writer below), then time
 * `hotcold preprocess` (Kaggle split) on it, next to `wc -l` on the same file.
 *
 *     npm run bench:preprocess [-- --rows 1000000 --runs 3 --keep]
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
import { run } from '../stages/preprocess/index.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}
const ROWS = arg('rows', 1_000_000);
const RUNS = arg('runs', 3);
const KEEP = process.argv.includes('--keep');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

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
      const mod = (await import(synth)) as { generate?: (o: { rows: number; seed: number; out: string }) => Promise<unknown> };
      if (typeof mod.generate === 'function') {
        await mod.generate({ rows: ROWS, seed: 7, out: path });
        return 'datasets/synthetic generate';
      }
    } catch (e) {
      process.stderr.write(`bench: synthetic generator not usable (${(e as Error).message}); using the fallback writer\n`);
    }
  }
  await writeSkewedTsv(path, ROWS, 7);
  return 'bench fallback skewed writer';
}

const dir = mkdtempSync(join(tmpdir(), 'hotcold-bench-pre-'));
try {
  const input = join(dir, 'train.tsv');
  const tGen = performance.now();
  const source = await writeInput(input);
  const bytes = statSync(input).size;
  console.log(`input: ${ROWS} rows, ${(bytes / 1e6).toFixed(1)} MB from ${source} (${((performance.now() - tGen) / 1000).toFixed(1)}s)`);

  const wc: number[] = [];
  const pre: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    execFileSync('wc', ['-l', input]);
    wc.push((performance.now() - t) / 1000);
    t = performance.now();
    const r = await run({ inputs: [input], out: join(dir, 'out'), options: { split: 'kaggle' }, force: true }, { progress: quietSink });
    pre.push((performance.now() - t) / 1000);
    if (r.manifest.rowsRead !== ROWS) throw new Error(`expected ${ROWS} rows, read ${r.manifest.rowsRead}`);
  }
  const p = median(pre);
  const w = median(wc);
  console.log(`preprocess (kaggle split, TSV → shards), median of ${RUNS}: ${p.toFixed(2)}s  ${(ROWS / p / 1e6).toFixed(2)}M rows/s  ${(bytes / p / 1e6).toFixed(0)} MB/s`);
  console.log(`wc -l on the same file, median of ${RUNS}: ${w.toFixed(3)}s  ${(bytes / w / 1e6).toFixed(0)} MB/s  → preprocess takes ${(p / w).toFixed(1)}× wc -l`);
  console.log(`runs (s): preprocess ${pre.map((x) => x.toFixed(2)).join(' ')} | wc ${wc.map((x) => x.toFixed(3)).join(' ')}`);
} finally {
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
