/** `hotcold sweep`, `hotcold report` and `hotcold demo` subcommands. */
import type { Command } from 'commander';
import { relative } from 'node:path';
import { action, EXIT_FAILURE, intArg } from '../../pipeline/cli.js';
import type { SweepOutcome } from './index.js';
import type { SweepResults } from './results.js';

// the stage itself (zod, p-queue, vega via the report) loads only when a command runs, so `--help` starts fast

const stderr = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function shown(p: string): string {
  const r = relative(process.cwd(), p);
  return r.startsWith('..') ? p : r;
}

/** Headline lines for the terminal. */
async function printHeadline(r: SweepResults, reportHtml: string, reportMd: string): Promise<void> {
  const [{ summarize }, { fmtEstimate }] = await Promise.all([import('./report.js'), import('./stats.js')]);
  const h = summarize(r);
  const lines = [''];
  const basis = h.basis;
  for (const x of h.rows) {
    const sp = h.basis === 'modelled' ? x.speedupModelled : h.basis === 'work' ? x.speedupWork : h.basis === 'cpu' ? x.speedupCpu : x.speedup;
    lines.push(
      `  ${x.label.padEnd(18)} ${basis} ${fmtEstimate(sp, 2, '×')}  (wall ${fmtEstimate(x.speedup, 2, '×')})  ΔAUC ${fmtEstimate(x.deltaAuc, 4)}` +
        (x.achievedDrop.mean !== null ? `  drop ${(100 * x.achievedDrop.mean).toFixed(1)} %` : '') + (x.mode === 'slipstream' ? `  ${x.verdict}` : ''),
    );
  }
  lines.push(...(await import('./budget-report.js')).budgetLines(r));
  if (h.basisNote) lines.push(`  note: ${h.basisNote}`);
  lines.push(`  ${h.verdict}`, '', `report: ${shown(reportHtml)}  (also ${shown(reportMd)})`, '');
  process.stdout.write(lines.join('\n'));
}

async function finish(o: SweepOutcome): Promise<void> {
  await printHeadline(o.results, o.report.html, o.report.markdown);
  if (o.failed.length > 0) {
    stderr(`hotcold: ${o.failed.length} run(s) failed: ${o.failed.join(', ')} (see ${shown(o.dir)}/runs/<id>/train.log)`);
    process.exitCode = EXIT_FAILURE;
  }
}

interface SweepOpts {
  config: string;
  out?: string;
  concurrency?: number;
  forceClean?: boolean;
  repeats?: number;
}

/** Live per-job lines on stderr (redrawn on a TTY, every 10 s otherwise). */
const stderrSink = { isTTY: Boolean(process.stderr.isTTY), write: (s: string): void => void process.stderr.write(s) };

interface DemoOpts {
  out?: string;
  rows?: number;
  tiny?: boolean;
  concurrency?: number;
  coldStore?: string;
  repeats?: number;
}

export function register(program: Command): void {
  program
    .command('sweep')
    .description('train a grid of runs (baseline, fae, slipstream × D × seeds) on prepared data, then write results, plots and the report')
    .requiredOption('--config <json>', 'sweep config (e.g. configs/sweep-drop.json)')
    .option('--out <dir>', 'sweep directory (overrides "out" in the config)')
    .option('-j, --concurrency <n>', 'train jobs at once (default: config, else number of cores)', intArg('--concurrency', 1, 1024))
    .option('--force-clean', 'use a sweep directory that holds files not written by hotcold sweep (never /, home or the checkout)')
    .option('--repeats <n>', 'runs of every configuration, with derived seeds (default: config schedule.repeats, else 1)', intArg('--repeats', 1, 1000))
    .action(
      action(async (o: SweepOpts) => {
        const [{ loadSweepConfig }, { runSweep }] = await Promise.all([import('./config.js'), import('./index.js')]);
        const c = loadSweepConfig(o.config);
        await finish(await runSweep(c, { out: o.out, concurrency: o.concurrency, repeats: o.repeats, log: stderr, sink: stderrSink, forceClean: o.forceClean }));
      }),
    );

  program
    .command('report')
    .description('rebuild report.md / report.html and the plots from results on disk (a sweep dir, or a train run dir for a one-run report)')
    .argument('<dir>', 'sweep directory or train run directory')
    .action(
      action(async (dir: string) => {
        const { buildReport } = await import('./index.js');
        const { results, report } = await buildReport(dir);
        await printHeadline(results, report.html, report.markdown);
      }),
    );

  program
    .command('demo')
    .description('run the whole pipeline on a generated synthetic dataset (generate → preprocess → profile → segregate → calibrate → drop sweep, 2 repeats → report)')
    .option('--out <dir>', 'demo directory (default runs/demo, runs/demo-tiny with --tiny)')
    .option('--rows <n>', 'rows to generate (default 400000 as configs/sweep-demo.json; 20000 with --tiny)', intArg('--rows', 1000))
    .option('--tiny', 'CI-sized preset: small data and model, 2 drop targets, under a minute')
    .option('-j, --concurrency <n>', 'train jobs at once (default: number of cores)', intArg('--concurrency', 1, 1024))
    .option('--cold-store <where>', 'cold embedding rows: memory, redis (starts a local redis-server when it is on PATH) or redis://host:port', 'memory')
    .option('--repeats <n>', 'runs of every configuration (default 2; 1 with --tiny)', intArg('--repeats', 1, 1000))
    .action(
      action(async (o: DemoOpts) => {
        const { runDemo } = await import('./demo.js');
        await finish(await runDemo({ out: o.out, rows: o.rows, tiny: o.tiny, concurrency: o.concurrency, repeats: o.repeats, log: stderr, sink: stderrSink, coldStore: o.coldStore }));
      }),
    );
}
