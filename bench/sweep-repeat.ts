/**
 * `npm run bench:sweep-repeat`: does the demo's headline speedup survive a busy machine?
 * Runs `hotcold demo` (configs/sweep-demo.json) BENCH_DEMOS times — at once by default, so
 * each copy is the others' background load (the issue's "two copies of the demo at once"),
 * plus BENCH_BUSY busy-loop processes — and prints, per copy, every Slipstream setting's
 * speedups on all four bases (modelled = the verdict's, work, train CPU, train wall) and the
 * verdict, then the spread of each basis across the copies: (max − min) / mean.
 * Target: the headline (modelled) speedup agrees within ±5 % and the verdicts agree.
 *
 * Env: BENCH_DEMOS (default 3), BENCH_SEQUENTIAL=1 (one copy after another),
 *      BENCH_BUSY (busy-loop processes beside the demos; default 0), BENCH_ROWS (default: the preset's),
 *      BENCH_DIR (default os.tmpdir()/hotcold-bench-sweep-repeat; cleared first).
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../stages/sweep/demo.js';
import { summarize } from '../stages/sweep/headline.js';
import type { SweepOutcome } from '../stages/sweep/index.js';
import { fmtEstimate } from '../stages/sweep/stats.js';

const N = Number(process.env.BENCH_DEMOS ?? 3);
const SEQ = process.env.BENCH_SEQUENTIAL === '1';
const BUSY = Number(process.env.BENCH_BUSY ?? 0);
const ROWS = process.env.BENCH_ROWS ? Number(process.env.BENCH_ROWS) : undefined;
const DIR = process.env.BENCH_DIR ?? join(tmpdir(), 'hotcold-bench-sweep-repeat');
const out = (s: string): void => void process.stdout.write(`${s}\n`);

rmSync(DIR, { recursive: true, force: true });
const busy = Array.from({ length: BUSY }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
const loads: number[] = [];
const sampler = setInterval(() => loads.push(loadavg()[0] ?? 0), 5000);
const t0 = performance.now();
const one = (k: number): Promise<SweepOutcome> =>
  runDemo({ out: join(DIR, `demo-${k}`), rows: ROWS, concurrency: 2, log: (l) => { if (!l.startsWith('sweep: running')) process.stderr.write(`[demo ${k}] ${l}\n`); } });
let outcomes: SweepOutcome[] = [];
try {
  if (SEQ) for (let k = 0; k < N; k++) outcomes.push(await one(k));
  else outcomes = await Promise.all(Array.from({ length: N }, (_, k) => one(k)));
} finally {
  clearInterval(sampler);
  for (const b of busy) b.kill();
}
const sec = (performance.now() - t0) / 1000;
const lm = loads.length > 0 ? loads.reduce((a, b) => a + b, 0) / loads.length : loadavg()[0]!;
out(`bench:sweep-repeat — ${N} demo copies ${SEQ ? 'one after another' : 'at once'}, ${BUSY} busy loop(s); ${cpus().length} × ${cpus()[0]?.model.trim()}; ` +
  `1-min load average over the bench: mean ${lm.toFixed(1)}, max ${Math.max(...loads, 0).toFixed(1)} (other engineers' jobs included); ${sec.toFixed(0)} s wall`);

type Basis = 'speedupModelled' | 'speedupWork' | 'speedupCpu' | 'speedup';
const BASES: [Basis, string][] = [['speedupModelled', 'modelled (verdict)'], ['speedupWork', 'work'], ['speedupCpu', 'train CPU'], ['speedup', 'train wall']];
const heads = outcomes.map((o) => summarize(o.results));
const labels = [...new Set(heads.flatMap((h) => h.rows.map((r) => r.label)))];
for (const [k, h] of heads.entries()) {
  out(`\ndemo ${k}: ${h.verdict}`);
  for (const r of h.rows) {
    out(`  ${r.label.padEnd(18)} ` + BASES.map(([b, name]) => `${name} ${fmtEstimate(r[b], 2, '×')}`).join('  ') + `  ΔAUC ${fmtEstimate(r.deltaAuc, 4)}  ${r.mode === 'slipstream' ? r.verdict : ''}`);
  }
}
out('\nspread across the copies, (max − min) / mean of each setting\'s mean speedup (target: headline within ±5 %, i.e. spread ≤ 10 %):');
for (const label of labels) {
  const cells = BASES.map(([b, name]) => {
    const v = heads.map((h) => h.rows.find((r) => r.label === label)?.[b].mean ?? null).filter((x): x is number => x !== null);
    if (v.length < 2) return `${name} –`;
    const m = v.reduce((a, c) => a + c, 0) / v.length;
    return `${name} ${v.map((x) => x.toFixed(2)).join('/')} (±${((50 * (Math.max(...v) - Math.min(...v))) / m).toFixed(1)} %)`;
  });
  const verdicts = heads.map((h) => h.rows.find((r) => r.label === label)?.verdict ?? '–');
  out(`  ${label.padEnd(18)} ${cells.join('  ')}  verdicts ${verdicts.join('/')}`);
}
