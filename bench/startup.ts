/**
 * `npm run bench:startup`: whole-process start-up of the compiled CLI (the esbuild bundle that
 * `npx hotcold` runs, and the plain tsc output) beside `node -e 1` and the tsx (source) entry, interleaved, medians of wall and CPU seconds (user + sys of the child,
 * through /usr/bin/time when present).
 *
 *     npm run bench:startup -- [--reps 9]
 *
 * Targets (issue #10): `hotcold --help` ≤ 0.3 s, a subcommand's start ≤ 0.5 s, whole process.
 * "subcommand start" = `hotcold train` with a real config up to its first check of the data
 * directory (it loads the trainer, zod, Arrow and the addon, validates the config, then stops on
 * the missing directory): everything a run pays before its first batch except reading data.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { arg, median } from './args.js';

const REPS = Number(arg('reps', '9'));
const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'dist', 'bin', 'hotcold.js');
const BUNDLE = join(ROOT, 'dist', 'bundle', 'hotcold.js');
const TSX = ['--import', 'tsx', join(ROOT, 'bin', 'hotcold.ts')];
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const missing = join(os.tmpdir(), 'hotcold-bench-startup-no-such-dir');
const trainArgs = ['train', '--config', join(ROOT, 'configs', 'baseline-small.json'), '--data', missing, '--out', join(os.tmpdir(), 'hotcold-bench-startup-out')];

const cases: { name: string; args: string[]; target?: number }[] = [
  { name: 'node -e 1', args: ['-e', '1'] },
  { name: 'hotcold --help (bundle)', args: [BUNDLE, '--help'], target: 0.3 },
  { name: 'hotcold train --help (bundle)', args: [BUNDLE, 'train', '--help'], target: 0.5 },
  { name: 'hotcold train start (bundle)', args: [BUNDLE, ...trainArgs], target: 0.5 },
  { name: 'hotcold --help (tsc dist/bin)', args: [DIST, '--help'], target: 0.3 },
  { name: 'hotcold train start (tsc)', args: [DIST, ...trainArgs], target: 0.5 },
  { name: 'hotcold --help (tsx, sources)', args: [...TSX, '--help'] },
  { name: 'hotcold train start (tsx)', args: [...TSX, ...trainArgs] },
];

function once(args: string[]): { wall: number; cpu: number } {
  const t0 = performance.now();
  const r = TIME
    ? spawnSync(TIME, ['-f', '%U %S', process.execPath, ...args], { encoding: 'utf8', cwd: ROOT })
    : spawnSync(process.execPath, args, { encoding: 'utf8', cwd: ROOT });
  const wall = (performance.now() - t0) / 1000;
  let cpu = NaN;
  if (TIME) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    const [u, s] = last.split(' ').map(Number);
    cpu = (u ?? NaN) + (s ?? NaN);
  }
  return { wall, cpu };
}

if (!existsSync(DIST) || !existsSync(BUNDLE)) {
  console.log('bench:startup: dist/ or dist/bundle/ is not built (npm run build); nothing to measure');
} else {
  console.log(`bench:startup — ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}; load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}; ${REPS} interleaved repeats`);
  const res = cases.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let r = 0; r < REPS; r++) {
    cases.forEach((c, i) => {
      const x = once(c.args);
      res[i]!.wall.push(x.wall);
      res[i]!.cpu.push(x.cpu);
    });
  }
  const base = median(res[0]!.wall);
  for (const [i, c] of cases.entries()) {
    const w = median(res[i]!.wall);
    const cpu = median(res[i]!.cpu);
    const verdict = (x: number): string => (x <= c.target! ? 'met' : 'MISSED');
    const tgt = c.target ? `  target ≤ ${c.target} s: wall ${verdict(w)}, CPU ${Number.isNaN(cpu) ? '?' : verdict(cpu)}` : '';
    console.log(`  ${c.name.padEnd(32)} wall ${w.toFixed(3)} s  CPU ${Number.isNaN(cpu) ? '?' : cpu.toFixed(2)} s  (${(w / base).toFixed(1)}× node -e 1)${tgt}`);
  }
  console.log(`  load average at the end ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}
