/**
 * `hotcold sweep`: bring the data stages up to date, train every run of the
 * grid as a child process (bounded concurrency, resumable), then collect
 * results, draw the charts and write the report.
 *
 * Layout of a sweep directory:
 *
 *     sweep.json               the plan (config, runs, data, Bayes reference)
 *     data/ preprocessed/ profile/ segregated/ logs/   data stages
 *     runs/<run-id>/           one train run: metrics.json, log.jsonl, config.json,
 *                              train.log (stdout+stderr), job.json, failed.json
 *     results.json results.csv plots/*.svg|png report.md report.html
 *     manifest.json            the sweep manifest (committed last)
 */
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import { readJsonFile } from '../../pipeline/config.js';
import { badConfig, notFound } from '../../pipeline/errors.js';
import { configHash } from '../../pipeline/hash.js';
import { fileEntry, manifestHead, nowIso, writeManifest, type ManifestBase } from '../../pipeline/manifest.js';
import { acquireLock } from '../../pipeline/lock.js';
import { claimDir, type DirClaim } from '../../pipeline/outdir.js';
import type { ProgressSink } from '../../pipeline/progress.js';
import { baseConfigFor, type SweepConfig } from './config.js';
import { prepareData, type PreparedData } from './data.js';
import { expandGrid, type RunSpec } from './grid.js';
import { writeReport, type ReportFiles } from './report.js';
import {
  collectResults,
  PLAN_FILE,
  PLAN_MAGIC,
  readPlan,
  readResults,
  readRunMetrics,
  RESULTS_CSV,
  RESULTS_JSON,
  addReferences,
  curveFromMetrics,
  rowFromMetrics,
  writeResults,
  RESULTS_MAGIC,
  type SweepPlan,
  type SweepResults,
} from './results.js';
import { childLauncher, runTrainJobs, type JobOutcome, type Launcher, type TrainJob } from './runner.js';
import { repeatSeed, scheduleRuns, tableOrder } from './schedule.js';
import { JobWatch } from './watch.js';
import { CALIBRATION_DIR, CALIBRATION_FILE, LOAD_FILE, type LoadInfo } from './results.js';

/** The sweep manifest (`<sweep>/manifest.json`). */
export interface SweepManifest extends ManifestBase {
  magic: 'hotcold.sweep';
  name: string;
  runs: { total: number; ok: number; failed: number; pending: number };
  failed: string[];
}

/** Options of {@link runSweep}. */
export interface SweepOptions {
  /** sweep directory; @default config.out */
  out?: string;
  /** train jobs at once; @default config.concurrency, else number of cores */
  concurrency?: number;
  /** job launcher; @default child processes of bin/hotcold.js */
  launch?: Launcher;
  /** progress lines; @default silent */
  log?: (line: string) => void;
  /** the sweep directory, already claimed by the caller (the demo); else runSweep claims it */
  claim?: DirClaim;
  /** replace a sweep directory that holds files not written by hotcold sweep */
  forceClean?: boolean;
  /** repeats of every configuration; @default config.schedule.repeats */
  repeats?: number;
  /** live per-job progress lines go here (a TTY redraws them); @default none */
  sink?: ProgressSink;
}

/** What a sweep produced. */
export interface SweepOutcome {
  dir: string;
  results: SweepResults;
  report: ReportFiles;
  outcomes: JobOutcome[];
  /** ids of runs that failed */
  failed: string[];
}

/** `--set key=value` arguments; values as JSON so types survive (`"0.3"` vs `0.3`). */
function setArgs(values: Record<string, unknown>): string[] {
  return Object.entries(values).flatMap(([k, v]) => ['--set', `${k}=${JSON.stringify(v)}`]);
}

/** Build the train job of one run. */
export function trainJob(c: SweepConfig, run: RunSpec, dir: string, data: PreparedData): TrainJob {
  const base = baseConfigFor(c, run.mode);
  const runDir = join(dir, 'runs', run.id);
  const args = ['train', '--config', base, '--data', data.preprocessed];
  if (run.mode !== 'baseline') {
    if (!data.segregated) throw badConfig('grid.mode', `mode ${run.mode} needs segregated data`);
    args.push('--hot', data.segregated);
  }
  args.push('--out', runDir, ...setArgs(c.train.set), ...setArgs(run.params));
  args.push('--threads', '1'); // one single-threaded job per core (a lone run's default is auto)
  if (c.train.engine) args.push('--engine', c.train.engine);
  if (c.train.coldStore) args.push('--cold-store', c.train.coldStore);
  const ckpt = join(runDir, 'ckpt');
  if (c.train.checkpointEverySec > 0) {
    args.push('--checkpoint-dir', ckpt, '--checkpoint-every-sec', String(c.train.checkpointEverySec));
    if (existsSync(ckpt)) args.push('--resume');
  }
  args.push(...c.train.extraArgs);
  const fingerprint = configHash({
    base: readJsonFile(base),
    set: c.train.set,
    params: run.params,
    engine: c.train.engine ?? null,
    ...(c.train.coldStore ? { coldStore: c.train.coldStore } : {}),
    extraArgs: c.train.extraArgs,
    data: data.fingerprints,
  });
  return { run, dir: runDir, args, fingerprint, keepPartial: c.train.checkpointEverySec > 0 };
}

/** The calibration job of block `r` (`hotcold calibrate` on the baseline config and the sweep's data). */
export function calibrationJob(c: SweepConfig, r: number, dir: string, data: PreparedData): TrainJob {
  const mode = c.grid.mode!.includes('baseline') ? 'baseline' : (c.grid.mode![0] as RunSpec['mode']);
  const base = baseConfigFor(c, mode);
  const jobDir = join(dir, CALIBRATION_DIR, `r${r}`);
  const seed = repeatSeed(c.schedule.seed, r);
  const args = ['calibrate', '--config', base, '--data', data.preprocessed];
  if (data.segregated) args.push('--hot', data.segregated);
  args.push('--out', join(jobDir, CALIBRATION_FILE), ...setArgs(c.train.set), '--set', `seed=${seed}`);
  args.push('--threads', '1'); // one single-threaded job per core (a lone run's default is auto)
  if (c.train.engine) args.push('--engine', c.train.engine);
  const fingerprint = configHash({ calibrate: readJsonFile(base), set: c.train.set, seed, engine: c.train.engine ?? null, data: data.fingerprints });
  return { run: { id: `calibrate-r${r}`, mode, params: { seed } }, dir: jobDir, args, fingerprint, doneFile: CALIBRATION_FILE };
}

/** Samples the 1-minute load average every `everyMs` until stopped. */
function sampleLoad(everyMs = 5000): { stop(): LoadInfo } {
  const xs: number[] = [loadavg()[0] ?? 0];
  const t = setInterval(() => xs.push(loadavg()[0] ?? 0), everyMs);
  t.unref();
  return {
    stop(): LoadInfo {
      clearInterval(t);
      xs.push(loadavg()[0] ?? 0);
      return { samples: xs.length, mean: xs.reduce((a, b) => a + b, 0) / xs.length, max: Math.max(...xs), min: Math.min(...xs) };
    },
  };
}

/**
 * Run a sweep end to end (see the module comment for the layout).
 * Failed runs do not stop the sweep; they are listed in the outcome.
 * @throws PipelineError when a data stage fails or the config is unusable
 */
export async function runSweep(c: SweepConfig, opts: SweepOptions = {}): Promise<SweepOutcome> {
  const t0 = performance.now();
  const outPath = opts.out ?? c.out;
  if (outPath === undefined) throw badConfig('out', 'no sweep directory: set "out" in the config or pass --out');
  const claim = opts.claim ?? claimSweepDir(outPath, c.generate ? [] : c.input ?? [], opts.forceClean);
  try {
    return await sweepInto(c, claim.dir, opts, t0);
  } finally {
    if (!opts.claim) claim.release();
  }
}

/**
 * Claim a sweep directory: locked for the sweep, never overlapping its raw inputs,
 * and only one that is empty or was written by hotcold sweep (sweep.json, manifest).
 */
export function claimSweepDir(out: string, rawInputs: readonly string[], forceClean = false): DirClaim {
  const inputs = rawInputs.map((path) => ({ flag: 'input', path }));
  return claimDir({ dir: out, kind: 'sweep', inputs, forceClean, recognise: (names) => names.includes(PLAN_FILE) });
}

async function sweepInto(config: SweepConfig, dir: string, opts: SweepOptions, t0: number): Promise<SweepOutcome> {
  let c = config;
  const log = opts.log ?? (() => {});
  const repeats = opts.repeats ?? c.schedule.repeats;
  c = { ...c, schedule: { ...c.schedule, repeats } };
  const grid = expandGrid(c.grid, c.appliesTo);
  const runs = scheduleRuns(grid, repeats, c.schedule.seed, c.schedule.order); // execution order
  const concurrency = opts.concurrency ?? c.concurrency ?? availableParallelism();
  const data = await prepareData(c, dir, runs.some((r) => r.mode !== 'baseline'), opts.launch ?? childLauncher, log);

  const plan: SweepPlan = {
    magic: PLAN_MAGIC,
    formatVersion: 1,
    name: c.name,
    config: c,
    runs: tableOrder(runs, grid),
    order: runs.map((r) => r.id),
    bayes: data.bayes,
    data: { preprocessed: data.preprocessed, segregated: data.segregated },
    machine: {
      cpus: availableParallelism(), concurrency, loadAvgStart: loadavg()[0] ?? 0, node: process.version,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown', threads: 1,
    },
  };
  writeFileAtomicSync(join(dir, PLAN_FILE), JSON.stringify(plan, null, 2) + '\n');

  // one calibration at the head of each block of repeats, so unit costs are measured under the sweep's own load
  const jobs: TrainJob[] = [];
  for (const r of runs) {
    if (c.schedule.calibrate && (jobs.length === 0 || r.repeat !== runs[runs.indexOf(r) - 1]!.repeat)) jobs.push(calibrationJob(c, r.repeat ?? 0, dir, data));
    jobs.push(trainJob(c, r, dir, data));
  }
  const watch = opts.sink ? new JobWatch({ sink: opts.sink }) : undefined;
  const load = sampleLoad();
  const all = await runTrainJobs(jobs, { concurrency, launch: opts.launch, log, watch });
  writeFileAtomicSync(join(dir, LOAD_FILE), JSON.stringify(load.stop(), null, 2) + '\n');
  const calFailed = all.filter((o) => o.id.startsWith('calibrate-') && o.status === 'failed');
  if (calFailed.length > 0) log(`sweep: ${calFailed.length} calibration(s) failed (${calFailed.map((o) => o.id).join(', ')}): modelled times use the others, or are absent`);
  const outcomes = all.filter((o) => !o.id.startsWith('calibrate-'));

  const results = collectResults(plan, dir);
  writeResults(dir, results);
  const report = await writeReport(dir, results);
  const failed = outcomes.filter((o) => o.status === 'failed').map((o) => o.id);
  const n = (s: string): number => results.rows.filter((x) => x.status === s).length;
  const rels = [RESULTS_JSON, RESULTS_CSV, 'report.md', 'report.html', ...report.plots.map((p) => p.slice(dir.length + 1))];
  const manifest: SweepManifest = {
    ...manifestHead(
      'sweep',
      configHash({ config: { ...c, out: undefined, concurrency: undefined }, data: data.fingerprints }),
      t0,
      await Promise.all(rels.map((r) => fileEntry(dir, r))),
    ),
    name: c.name,
    runs: { total: results.rows.length, ok: n('ok'), failed: n('failed'), pending: n('pending') },
    failed,
  };
  writeManifest(dir, manifest);
  log(`sweep: ${manifest.runs.ok}/${manifest.runs.total} runs finished, ${failed.length} failed, in ${manifest.elapsedSec.toFixed(1)}s`);
  return { dir, results, report, outcomes, failed };
}

/** One-run results from a train run directory (no baseline, so no speedup). */
function singleRunResults(dir: string): SweepResults | null {
  const m = readRunMetrics(dir);
  if (!m) return null;
  const run: RunSpec = { id: basename(dir), mode: m.mode, params: { mode: m.mode, seed: m.seed } };
  const rows = [rowFromMetrics(run, m)];
  addReferences(rows, [run]);
  return {
    magic: RESULTS_MAGIC,
    formatVersion: 1,
    name: basename(dir),
    createdAt: nowIso(),
    goal: { speedup: 1.3, deltaAuc: -0.001 },
    bayes: null,
    rows,
    curves: [curveFromMetrics(run.id, m)],
  };
}

/**
 * `hotcold report <dir>`: rebuild the report from what is on disk.
 * A sweep directory (sweep.json) is re-collected from its runs, so an
 * interrupted sweep reports what finished; a directory with only results.json
 * is reported as is; a train run directory gets a one-run report.
 */
export async function buildReport(dirArg: string): Promise<{ results: SweepResults; report: ReportFiles }> {
  const dir = resolve(dirArg);
  if (!existsSync(dir)) throw notFound('run or sweep directory', dir);
  // the report writes into the directory: not while a sweep or a run is writing it
  const lock = acquireLock(dir, 'report', (m) => process.stderr.write(`hotcold: ${m}\n`));
  try {
    return await reportInto(dir);
  } finally {
    lock.release();
  }
}

async function reportInto(dir: string): Promise<{ results: SweepResults; report: ReportFiles }> {
  const plan = readPlan(dir);
  let results: SweepResults;
  if (plan) {
    results = collectResults(plan, dir);
    writeResults(dir, results);
  } else if (existsSync(join(dir, RESULTS_JSON))) {
    results = readResults(dir);
  } else {
    const single = singleRunResults(dir);
    if (!single) throw notFound('sweep.json, results.json or metrics.json', dir, 'point `hotcold report` at a sweep directory or a finished train run');
    results = single;
  }
  return { results, report: await writeReport(dir, results) };
}
