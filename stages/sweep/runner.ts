/**
 * Running jobs: every pipeline stage and every train run is a child process of
 * the same command line (`node bin/hotcold.js <cmd> ...`), with its output in a
 * log file. Train runs go through a bounded queue (p-queue); a run is finished
 * iff its `metrics.json` exists (the trainer commits it atomically) and was made
 * by the same job (`job.json` fingerprint), so an interrupted sweep resumes by
 * skipping finished runs. A failed run is recorded and the sweep goes on.
 *
 * The launcher is injectable so tests can fake the trainer.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import PQueue from 'p-queue';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import { PipelineError } from '../../pipeline/errors.js';
import { liveHolder, type LockInfo } from '../../pipeline/lock.js';
import { EXIT_WITH_PARENT_ENV } from '../../pipeline/parent-watch.js';
import { hotcoldCommand } from '../../pipeline/package-root.js';
import { formatDuration } from '../../pipeline/progress.js';
import { STATUS_ENV } from '../../pipeline/run-status.js';
import { METRICS_FILE } from '../../pipeline/run-metrics.js';
import type { RunSpec } from './grid.js';
import type { JobWatch } from './watch.js';

/** The command line the jobs run: compiled `dist/bin/hotcold.js`, or the TS entry through tsx when this process runs from source. */
export const HOTCOLD_COMMAND = hotcoldCommand();

/** The trainer's metrics file: a run is finished once it exists. */
export { METRICS_FILE };
export const JOB_FILE = 'job.json';
export const FAILED_FILE = 'failed.json';
export const TRAIN_LOG = 'train.log';

/** One child process: `hotcold <args...>` with stdout and stderr appended to `logFile`. */
export interface LaunchSpec {
  args: string[];
  logFile: string;
  /** live status file the child writes (pipeline/run-status.ts), when someone watches */
  statusFile?: string;
}

/** How a child process ended. */
export interface LaunchResult {
  exitCode: number | null;
  signal: string | null;
}

/** Starts a job and resolves when it ends. Tests inject a fake. */
export type Launcher = (spec: LaunchSpec) => Promise<LaunchResult>;

/**
 * Environment of every job: single-threaded BLAS, since a sweep runs one job per core,
 * and {@link EXIT_WITH_PARENT_ENV}: the job stops when the sweep's IPC channel closes.
 */
export function jobEnv(): NodeJS.ProcessEnv {
  return { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1', [EXIT_WITH_PARENT_ENV]: '1' };
}

/**
 * The real launcher: `node dist/bin/hotcold.js <args>` (see {@link HOTCOLD_COMMAND}) as a child
 * process. Each child holds an IPC channel to the sweep; when the sweep dies (even by SIGKILL) the
 * channel closes and the child stops (bin/hotcold.ts), so no job outlives its sweep.
 */
export const childLauncher: Launcher = (spec) =>
  new Promise((resolvePromise, reject) => {
    mkdirSync(dirname(spec.logFile), { recursive: true });
    const fd = openSync(spec.logFile, 'a');
    const env = spec.statusFile ? { ...jobEnv(), [STATUS_ENV]: spec.statusFile } : jobEnv();
    const child = spawn(process.execPath, [...HOTCOLD_COMMAND, ...spec.args], { stdio: ['ignore', fd, fd, 'ipc'], env });
    child.channel?.unref(); // the open channel alone must not keep the sweep alive
    child.on('error', (e) => {
      closeSync(fd);
      reject(e);
    });
    child.on('close', (code, signal) => {
      closeSync(fd);
      resolvePromise({ exitCode: code, signal });
    });
  });

/** Last `n` non-empty lines of a log file ('' when absent). */
export function logTail(path: string, n = 15): string {
  if (!existsSync(path)) return '';
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-n).join('\n');
}

/** A train run ready to launch. */
export interface TrainJob {
  run: RunSpec;
  /** run directory (<sweep>/runs/<id>) */
  dir: string;
  /** `hotcold train ...` arguments */
  args: string[];
  /** hash of everything that determines the run's result (data, base config, overrides) */
  fingerprint: string;
  /** keep a partial run directory (it holds checkpoints to resume from) */
  keepPartial?: boolean;
  /** the file whose existence marks the job finished; @default metrics.json */
  doneFile?: string;
}

/** What happened to one job. */
export interface JobOutcome {
  id: string;
  status: 'done' | 'skipped' | 'failed';
  sec: number;
  error?: string;
}

/** Contents of `<run>/job.json`. */
export interface JobRecord {
  id: string;
  fingerprint: string;
  params: Record<string, unknown>;
  args: string[];
}

/** Contents of `<run>/failed.json`. */
export interface FailedRecord {
  exitCode: number | null;
  signal: string | null;
  error: string;
  at: string;
}

/** Parse a JSON file that may be absent or half-written (a killed job): null then. */
export function readJsonOrNull<T>(path: string): T | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return null;
  }
}

function readJob(dir: string, name = JOB_FILE): JobRecord | null {
  return readJsonOrNull<JobRecord>(join(dir, name));
}

/**
 * True when the run directory holds a finished run of this job: `metrics.json`
 * exists and `job.json` (when present) carries the same fingerprint.
 */
export function isFinished(dir: string, fingerprint: string, doneFile = METRICS_FILE): boolean {
  if (!existsSync(join(dir, doneFile))) return false;
  const job = readJob(dir);
  return job === null || job.fingerprint === fingerprint;
}

/** Read `<run>/failed.json` when the last attempt failed. */
export function readFailed(dir: string): FailedRecord | null {
  return readJsonOrNull<FailedRecord>(join(dir, FAILED_FILE));
}

/** Options of {@link runTrainJobs}. */
export interface RunJobsOptions {
  /** jobs at once; @default number of cores */
  concurrency?: number;
  /** @default {@link childLauncher} */
  launch?: Launcher;
  /** progress lines */
  log?: (line: string) => void;
  /** how long to wait for run directories still held by live trainers (an earlier sweep's); @default 30 */
  waitSec?: number;
  /** live per-job lines; when given, `log` lines go through it */
  watch?: JobWatch;
}

/**
 * Wait until no run directory of `jobs` is held by a live process (the children of a
 * killed earlier sweep stop within moments), then go on; refuse after `waitSec`.
 * @throws PipelineError `locked` naming the runs and their pids
 */
export async function waitForLiveRuns(jobs: readonly TrainJob[], log: (line: string) => void, waitSec: number): Promise<void> {
  const held = (): [TrainJob, LockInfo][] => jobs.flatMap((j) => {
    const h = liveHolder(j.dir);
    return h ? [[j, h] as [TrainJob, LockInfo]] : [];
  });
  let live = held();
  if (live.length === 0) return;
  log(`sweep: waiting for ${live.length} run(s) still being trained by another process (${live.map(([j, h]) => `${j.run.id}: pid ${h.pid}`).join(', ')})`);
  const until = performance.now() + waitSec * 1000;
  while (live.length > 0 && performance.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    live = held();
  }
  if (live.length > 0) {
    throw new PipelineError('locked', `runs still being trained by other processes: ${live.map(([j, h]) => `${j.run.id} (pid ${h.pid}, since ${h.at})`).join(', ')}`, {
      file: dirname(live[0]![0].dir),
      hint: 'is another sweep running on this directory? wait for it or stop it, then run the sweep again',
    });
  }
}

/**
 * Where a job's output lives while it runs. The trainer owns its run directory
 * and clears it on a fresh start, so the log and the job record sit next to it
 * (`runs/<id>.train.log`, `runs/.<id>.job.json`) until the child exits, and are
 * then moved inside as `train.log` and `job.json`.
 */
function livePaths(job: TrainJob): { log: string; job: string; status: string } {
  const parent = dirname(job.dir);
  return { log: join(parent, `${job.run.id}.${TRAIN_LOG}`), job: join(parent, `.${job.run.id}.${JOB_FILE}`), status: join(parent, `.${job.run.id}.status.json`) };
}

/** Prepare a fresh attempt: clear what the last attempt left (unless resumable) and record the job. */
function prepareRunDir(job: TrainJob): void {
  const live = livePaths(job);
  const prev = readJob(dirname(live.job), basename(live.job)) ?? readJob(job.dir);
  const sameJob = prev !== null && prev.fingerprint === job.fingerprint;
  if (existsSync(job.dir) && !(sameJob && job.keepPartial)) rmSync(job.dir, { recursive: true, force: true });
  for (const f of [FAILED_FILE, METRICS_FILE, JOB_FILE]) rmSync(join(job.dir, f), { force: true });
  rmSync(live.log, { force: true });
  const record: JobRecord = { id: job.run.id, fingerprint: job.fingerprint, params: job.run.params, args: job.args };
  writeFileAtomicSync(live.job, JSON.stringify(record, null, 2) + '\n');
}

/** Move the log and the job record into the run directory once the child has exited. */
function settleRunDir(job: TrainJob): string {
  const live = livePaths(job);
  mkdirSync(job.dir, { recursive: true });
  const log = join(job.dir, TRAIN_LOG);
  if (existsSync(live.log)) renameSync(live.log, log);
  if (existsSync(live.job)) renameSync(live.job, join(job.dir, JOB_FILE));
  rmSync(live.status, { force: true });
  return log;
}

/** Write `<run>/failed.json` and return the failed outcome. */
function recordFailure(job: TrainJob, r: LaunchResult, sec: number, error: string): JobOutcome {
  const rec: FailedRecord = { exitCode: r.exitCode, signal: r.signal, error, at: new Date().toISOString() };
  writeFileAtomicSync(join(job.dir, FAILED_FILE), JSON.stringify(rec, null, 2) + '\n');
  return { id: job.run.id, status: 'failed', sec, error };
}

/**
 * Run train jobs with bounded concurrency, skipping finished ones.
 * Never throws for a failed job: it is recorded in `<run>/failed.json` and in the outcome.
 * @returns one outcome per job, in job order
 */
export async function runTrainJobs(jobs: TrainJob[], opts: RunJobsOptions = {}): Promise<JobOutcome[]> {
  const launch = opts.launch ?? childLauncher;
  const watch = opts.watch;
  const log = watch ? (l: string): void => watch.log(l) : opts.log ?? (() => {});
  const concurrency = Math.max(1, opts.concurrency ?? availableParallelism());
  const outcomes = new Map<string, JobOutcome>();

  const todo = jobs.filter((j) => {
    if (!isFinished(j.dir, j.fingerprint, j.doneFile)) return true;
    outcomes.set(j.run.id, { id: j.run.id, status: 'skipped', sec: 0 });
    return false;
  });
  await waitForLiveRuns(todo, log, opts.waitSec ?? 30);
  const total = jobs.length;
  const skipped = total - todo.length;
  log(`sweep: ${total} runs, ${skipped} already finished, ${todo.length} to run (${Math.min(concurrency, Math.max(todo.length, 1))} at a time)`);

  let finished = 0;
  let failed = 0;
  let busySec = 0;
  const queue = new PQueue({ concurrency });
  watch?.start();
  for (const job of todo) {
    void queue.add(async () => {
      const t0 = performance.now();
      let outcome: JobOutcome;
      try {
        prepareRunDir(job);
        const live = livePaths(job);
        watch?.add(job.run.id, live.status);
        const r = await launch({ args: job.args, logFile: live.log, statusFile: watch ? live.status : undefined }).finally(() => watch?.remove(job.run.id));
        const sec = (performance.now() - t0) / 1000;
        const logFile = settleRunDir(job);
        const doneFile = job.doneFile ?? METRICS_FILE;
        if (r.exitCode === 0 && existsSync(join(job.dir, doneFile))) {
          outcome = { id: job.run.id, status: 'done', sec };
        } else {
          const why = r.exitCode === 0 ? `exited 0 without writing ${doneFile}` : r.signal ? `killed by ${r.signal}` : `exit code ${String(r.exitCode)}`;
          outcome = recordFailure(job, r, sec, `${why}\n${logTail(logFile)}`.trim());
        }
      } catch (e) {
        const sec = (performance.now() - t0) / 1000;
        settleRunDir(job);
        outcome = recordFailure(job, { exitCode: null, signal: null }, sec, `could not start: ${(e as Error).message}`);
      }
      outcomes.set(job.run.id, outcome);
      finished++;
      if (outcome.status === 'failed') failed++;
      busySec += outcome.sec;
      const left = todo.length - finished;
      const eta = left > 0 ? `, ETA ${formatDuration(((busySec / finished) * left) / Math.min(concurrency, left))}` : '';
      const what = outcome.status === 'done' ? `done in ${formatDuration(outcome.sec)}` : `FAILED (${outcome.error?.split('\n')[0] ?? ''})`;
      log(`sweep: [${skipped + finished}/${total}] ${job.run.id} ${what}; ${failed} failed${eta}`);
    });
  }
  await queue.onIdle();
  watch?.stop();
  return jobs.map((j) => outcomes.get(j.run.id)!);
}
