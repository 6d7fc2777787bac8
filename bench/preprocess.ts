/**
 * Preprocess throughput, whole process and in-process, beside `wc -l` on the same
 * file in the same invocation. For each size: write a Criteo-like TSV (the
 * project's synthetic generator), then, interleaved per run:
 *
 * - `wc -l` on the file (the disk/page-cache floor);
 * - whole process: `node bin/hotcold.js preprocess --input F --out fresh-dir`
 *   (Kaggle split), with the native parser when built and with `--parser ts`;
 *   wall, CPU and peak RSS from /usr/bin/time when present;
 * - in-process: the stage's `run()` (no start-up), native and TS parser;
 * - start-up: `node bin/hotcold.js --help` against `node -e 0` (what every
 *   whole-process figure pays before reading a byte; under tsx, the transpiler);
 * - the disk: the output's files (the same bytes, read back first) written and fsynced one by one
 *   into a fresh directory beside it, buffered, as `cp` + `sync` would (the floor of any run that
 *   leaves its output durable on this disk); and the whole process with `--out` on tmpfs
 *   (`/dev/shm`, when present), without that floor;
 * - the whole process with `--direct-io on` (every shard O_DIRECT) beside the default `auto`
 *   (buffered while the shards fit in half of the available memory: all of them at these sizes).
 *
 *     npm run bench:preprocess [-- --rows 1000000,10000000 --runs 3 --keep]
 *     npm run bench:preprocess -- --input data/train.txt --runs 1 --parsers native
 *     npm run bench:preprocess -- --vocab-memory   (vocabulary memory at full Kaggle scale)
 *
 * Prints medians (rows/s, MB/s, CPU-s per 1M rows), the ratio to `wc -l`, the CPU
 * model and the load average before and after (a shared machine is noisy).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KAGGLE_CARDINALITIES } from '../datasets/criteo/constants.js';
import { loadParseAddon } from '../datasets/criteo/native.js';
import { fsyncDir, writeFileSynced } from '../pipeline/atomic.js';
import { quietSink } from '../pipeline/progress.js';
import { Rng } from '../pipeline/rng.js';
import { createRowBatch, DEFAULT_BATCH_ROWS } from '../datasets/criteo/batch.js';
import { run } from '../stages/preprocess/index.js';
import { Categorify } from '../stages/preprocess/ops/categorify.js';
import { arg, flag, median } from './args.js';

const SIZES = arg('rows', '1000000').split(',').map(Number);
const INPUT = arg('input', '');
const RUNS = Number(arg('runs', '3'));
const KEEP = flag('keep');
/** which parsers to time (`--parsers native` skips the slower TS runs on big inputs) */
const PARSERS = arg('parsers', 'native,ts').split(',');
const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'hotcold.js');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

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

async function writeInput(path: string, rows: number): Promise<string> {
  const synth = join(import.meta.dirname, '..', 'datasets', 'synthetic', 'index.ts');
  if (existsSync(synth)) {
    try {
      type Gen = (o: { rows: number; seed: number; out: string; force?: boolean; progress?: typeof quietSink }) => Promise<unknown>;
      const mod = (await import(synth)) as { generateToFile?: Gen };
      if (typeof mod.generateToFile === 'function') {
        await mod.generateToFile({ rows, seed: 7, out: path, force: true, progress: quietSink });
        return 'datasets/synthetic generateToFile (default scale)';
      }
    } catch (e) {
      process.stderr.write(`bench: synthetic generator not usable (${(e as Error).message}); using the fallback writer\n`);
    }
  }
  await writeSkewedTsv(path, rows, 7);
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

/** One timed child process: wall seconds, CPU seconds (user + sys) and peak RSS (MiB) when /usr/bin/time is there. */
interface Timed {
  wall: number;
  cpu: number;
  rssMiB: number;
}

function timeChild(cmd: string, args: string[]): Timed {
  const full = TIME ? [TIME, ['-f', 'TIME %e %U %S %M', cmd, ...args]] as const : [cmd, args] as const;
  const t = performance.now();
  const r = spawnSync(full[0], full[1], { encoding: 'utf8', maxBuffer: 1 << 24 });
  const wall = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  return m ? { wall, cpu: Number(m[2]) + Number(m[3]), rssMiB: Number(m[4]) / 1024 } : { wall, cpu: NaN, rssMiB: NaN };
}

/** The files of an output directory (recursively), largest first. */
function filesOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  walk(dir);
  const size = new Map(out.map((f) => [f, statSync(f).size]));
  return out.sort((a, b) => size.get(b)! - size.get(a)!);
}

/**
 * The disk floor: `files` read into memory (not timed), then written + fsynced one by one into a
 * fresh directory `to` (pipeline/atomic's writeFileSynced: buffered, as the part writer's buffered
 * path writes), the directory fsynced last; wall seconds and bytes.
 */
function diskFloor(files: string[], to: string): { wall: number; bytes: number } {
  const data = files.map((f) => readFileSync(f));
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  const t = performance.now();
  data.forEach((b, i) => writeFileSynced(join(to, `f${i}`), b));
  fsyncDir(to);
  const wall = (performance.now() - t) / 1000;
  rmSync(to, { recursive: true, force: true });
  return { wall, bytes: data.reduce((a, b) => a + b.length, 0) };
}

const SHM = '/dev/shm';

const fmtLoad = (): string => loadavg().map((x) => x.toFixed(1)).join(' / ');

interface Mode {
  name: string;
  wall: number[];
  cpu: number[];
  rss: number[];
  once: (out: string) => Promise<Timed>;
  /** `hotcold profile` on the output right after (the next stage: does it find the shards in the page cache?) */
  profile?: number[];
}

async function benchFile(input: string, rows: number, dir: string): Promise<void> {
  const bytes = statSync(input).size;
  const native = loadParseAddon().addon !== null;
  const cli = (parser: string, extra: string[] = []) => async (out: string): Promise<Timed> =>
    timeChild(process.execPath, [CLI, 'preprocess', '--input', input, '--out', out, '--split', 'kaggle', '--parser', parser, ...extra]);
  // the output on tmpfs: what the run costs without the disk under it
  const shmFree = existsSync(SHM) ? ((st) => st.bavail * st.bsize)(statfsSync(SHM)) : 0;
  const shm = shmFree > 3 * bytes ? mkdtempSync(join(SHM, 'hotcold-bench-pre-')) : null;
  const inproc = (parser: 'native' | 'ts') => async (out: string): Promise<Timed> => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await run({ inputs: [input], out, options: { split: 'kaggle' }, parser }, { progress: quietSink });
    const cu = process.cpuUsage(c0);
    if (r.manifest.rowsRead !== rows) throw new Error(`expected ${rows} rows, read ${r.manifest.rowsRead}`);
    return { wall: (performance.now() - t0) / 1000, cpu: (cu.user + cu.system) / 1e6, rssMiB: process.resourceUsage().maxRSS / 1024 };
  };
  const modes: Mode[] = [];
  const add = (name: string, once: Mode['once'], profile = false) => modes.push({ name, wall: [], cpu: [], rss: [], once, profile: profile ? [] : undefined });
  const useNative = native && PARSERS.includes('native');
  const useTs = PARSERS.includes('ts');
  if (useNative) add('whole process, native parser', cli('native'), true);
  if (useNative) add('  same, --direct-io on', cli('native', ['--direct-io', 'on']), true);
  if (useNative && shm) add('  same, --out on tmpfs', () => cli('native')(join(shm, 'out')));
  if (useTs) add('whole process, TS parser', cli('ts'));
  if (useNative) add('in-process, native parser', inproc('native'));
  if (useTs) add('in-process, TS parser', inproc('ts'));
  const wc: number[] = [];
  const floor: number[] = [];
  let floorBytes = 0;
  let filesCount = 0;
  const startup: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    execFileSync('wc', ['-l', input]);
    wc.push((performance.now() - t) / 1000);
    t = performance.now();
    execFileSync(process.execPath, ['-e', '0']);
    bare.push((performance.now() - t) / 1000);
    t = performance.now();
    execFileSync(process.execPath, [CLI, '--help'], { stdio: 'ignore' });
    startup.push((performance.now() - t) / 1000);
    for (const m of modes) {
      const out = join(dir, 'out');
      rmSync(out, { recursive: true, force: true }); // a fresh output directory, outside the timing
      const r = await m.once(out);
      m.wall.push(r.wall);
      m.cpu.push(r.cpu);
      m.rss.push(r.rssMiB);
      if (m.profile) {
        const t = performance.now();
        execFileSync(process.execPath, [CLI, 'profile', '--data', out, '--out', join(dir, 'profile')], { stdio: 'ignore' });
        m.profile.push((performance.now() - t) / 1000);
        rmSync(join(dir, 'profile'), { recursive: true, force: true });
      }
      if (m === modes[0] && existsSync(out)) {
        const files = filesOf(out);
        filesCount = files.length;
        const f = diskFloor(files, join(dir, 'floor'));
        floor.push(f.wall);
        floorBytes = f.bytes;
      }
      if (shm) rmSync(join(shm, 'out'), { recursive: true, force: true });
    }
  }
  if (shm) rmSync(shm, { recursive: true, force: true });
  const w = median(wc);
  console.log(`${rows} rows, ${(bytes / 1e6).toFixed(1)} MB, median of ${RUNS} (load average now ${fmtLoad()}):`);
  for (const m of modes) {
    const p = median(m.wall);
    const cpu = median(m.cpu);
    const rss = Math.max(...m.rss);
    console.log(
      `  ${m.name.padEnd(30)} ${p.toFixed(2).padStart(6)}s  ${(rows / p / 1e6).toFixed(2)}M rows/s  ${(bytes / p / 1e6).toFixed(0).padStart(4)} MB/s  ` +
        `CPU ${Number.isFinite(cpu) ? `${(cpu / (rows / 1e6)).toFixed(2)}s per 1M rows` : 'n/a'}  ` +
        `${Number.isFinite(rss) ? `peak RSS ${rss.toFixed(0)} MiB  ` : ''}${(p / w).toFixed(0)}× wc -l   runs ${m.wall.map((x) => x.toFixed(2)).join(' ')}` +
        (m.profile ? `;  then \`hotcold profile\` ${median(m.profile).toFixed(2)}s (runs ${m.profile.map((x) => x.toFixed(2)).join(' ')})` : ''),
    );
  }
  console.log(`  ${'wc -l, same file'.padEnd(30)} ${w.toFixed(3).padStart(6)}s  ${(rows / w / 1e6).toFixed(1)}M rows/s  ${(bytes / w / 1e6).toFixed(0)} MB/s`);
  if (floor.length > 0 && modes[0]) {
    const fl = median(floor);
    console.log(
      `  ${'disk: write + fsync the output'.padEnd(30)} ${fl.toFixed(2).padStart(6)}s  ${(rows / fl / 1e6).toFixed(2)}M rows/s  ${(floorBytes / fl / 1e6).toFixed(0).padStart(4)} MB/s of output ` +
        `(${(floorBytes / 1e6).toFixed(0)} MB in ${filesCount} files, buffered; runs ${floor.map((x) => x.toFixed(2)).join(' ')}): ` +
        `the first whole-process median is ${(median(modes[0].wall) / fl).toFixed(2)}× this floor`,
    );
  }
  const su = median(startup) - median(bare);
  console.log(
    `  start-up: \`node bin/hotcold.js --help\` ${median(startup).toFixed(2)}s vs \`node -e 0\` ${median(bare).toFixed(2)}s: ${su.toFixed(2)}s of every whole-process figure above ` +
      `(without it the first whole-process median above would be ${modes[0] ? `${(rows / Math.max(median(modes[0].wall) - su, 1e-3) / 1e6).toFixed(2)}M rows/s` : 'n/a'})`,
  );
}

const dir = mkdtempSync(join(tmpdir(), 'hotcold-bench-pre-'));
try {
  console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'} × ${cpus().length}; load average (1/5/15 min) at the start: ${fmtLoad()}`);
  console.log(`parse addon: ${loadParseAddon().addon ? 'built (native parser used by default)' : `not built (${loadParseAddon().error})`}`);
  if (INPUT) {
    const rows = Number(execFileSync('wc', ['-l', INPUT], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
    await benchFile(INPUT, rows, dir);
  } else {
    for (const rows of SIZES) {
      const input = join(dir, `train-${rows}.tsv`);
      const tGen = performance.now();
      const source = await writeInput(input, rows);
      console.log(`input: ${rows} rows, ${(statSync(input).size / 1e6).toFixed(1)} MB from ${source} (${((performance.now() - tGen) / 1000).toFixed(1)}s)`);
      await benchFile(input, rows, dir);
      if (!KEEP) rmSync(input, { force: true });
    }
  }
  console.log(`load average (1/5/15 min) at the end: ${fmtLoad()} on ${cpus().length} cores`);
} finally {
  if (!KEEP) rmSync(dir, { recursive: true, force: true });
  else console.log(`kept ${dir}`);
}
