/**
 * Synthetic generator throughput.
 *
 *     npm run bench:generate -- [--rows 1000000] [--reps 3] [--seed 7] [--scale 0.01]
 *
 * Prints medians over `--reps` runs of:
 *   - `generateToFile`: TSV to disk with the sidecar (statistics and exact Bayes AUC
 *     included), fsync and rename — what `hotcold generate` does;
 *   - `generateRows`: the TSV text stream alone, no statistics, nothing written;
 *   - baseline: `Buffer.fill` of the same number of bytes in the same block size,
 *     written to a file and fsynced — the cost of just moving those bytes to disk.
 * Rates are rows/s and MB/s of wall time, with CPU time (user + system of this
 * process) next to them because the machine may be shared. The aim is
 * ≥ 500k rows/s of TSV text.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quietSink } from '../pipeline/progress.js';
import { generateToFile } from '../datasets/synthetic/file.js';
import { BLOCK_BYTES, generateRows } from '../datasets/synthetic/generator.js';
import { arg, median } from './args.js';

const ROWS = Number(arg('rows', '1000000'));
const REPS = Number(arg('reps', '3'));
const SEED = Number(arg('seed', '7'));
const SCALE = Number(arg('scale', '0.01'));

const cpuSec = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

interface Sample {
  wall: number;
  cpu: number;
  bytes: number;
}

async function measure(fn: () => Promise<number> | number): Promise<Sample> {
  const c0 = cpuSec();
  const t0 = performance.now();
  const bytes = await fn();
  return { wall: (performance.now() - t0) / 1000, cpu: cpuSec() - c0, bytes };
}

function report(name: string, xs: Sample[]): { rowsPerSec: number; mbPerSec: number } {
  const wall = median(xs.map((x) => x.wall));
  const cpu = median(xs.map((x) => x.cpu));
  const bytes = xs[0]!.bytes;
  const r = { rowsPerSec: ROWS / wall, mbPerSec: bytes / 1e6 / wall };
  console.log(
    `${name.padEnd(28)} ${(r.rowsPerSec / 1e3).toFixed(0).padStart(6)}k rows/s ${r.mbPerSec.toFixed(0).padStart(5)} MB/s` +
      `   (wall ${wall.toFixed(2)}s, cpu ${cpu.toFixed(2)}s → ${(ROWS / cpu / 1e3).toFixed(0)}k rows/cpu-s)`,
  );
  return r;
}

const dir = mkdtempSync(join(tmpdir(), 'hotcold-bench-generate-'));
try {
  const out = join(dir, 'synth.tsv');
  console.log(`bench:generate — ${ROWS} rows, seed ${SEED}, scale ${SCALE}, median of ${REPS}`);
  const toFile: Sample[] = [];
  const stream: Sample[] = [];
  const base: Sample[] = [];
  let auc = NaN;
  let testAuc = NaN;
  for (let rep = 0; rep < REPS; rep++) {
    toFile.push(
      await measure(async () => {
        const r = await generateToFile({ rows: ROWS, seed: SEED, scale: SCALE, out, force: true, progress: quietSink });
        auc = r.sidecar.bayes.auc;
        testAuc = r.sidecar.bayesTest.auc;
        return r.sidecar.bytes;
      }),
    );
    stream.push(
      await measure(() => {
        let n = 0;
        for (const chunk of generateRows({ rows: ROWS, seed: SEED, scale: SCALE })) n += chunk.length;
        return n;
      }),
    );
    const total = toFile[toFile.length - 1]!.bytes;
    base.push(
      await measure(() => {
        const buf = Buffer.allocUnsafe(BLOCK_BYTES);
        const fd = openSync(join(dir, 'plain.bin'), 'w');
        let left = total;
        let k = 0;
        while (left > 0) {
          const n = Math.min(left, 4096 * 240); // ≈ one generator block of text
          buf.fill(97 + (k++ % 26), 0, n);
          for (let off = 0; off < n; ) off += writeSync(fd, buf, off, n - off);
          left -= n;
        }
        fsyncSync(fd);
        closeSync(fd);
        return total;
      }),
    );
    rmSync(join(dir, 'plain.bin'), { force: true });
  }
  const a = report('generateToFile (+sidecar)', toFile);
  const b = report('generateRows (text only)', stream);
  const c = report('baseline Buffer.fill+write', base);
  console.log(
    `ratios: generateToFile / baseline = ${(a.mbPerSec / c.mbPerSec).toFixed(2)}×, ` +
      `text-only / baseline = ${(b.mbPerSec / c.mbPerSec).toFixed(2)}×; ` +
      `aim ≥ 500k rows/s: ${b.rowsPerSec >= 5e5 ? 'met' : 'not met'} (text), ${a.rowsPerSec >= 5e5 ? 'met' : 'not met'} (to file)`,
  );
  console.log(`planted-model Bayes AUC: ${auc.toFixed(4)} overall, ${testAuc.toFixed(4)} on the Kaggle test half`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
