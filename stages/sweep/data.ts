/**
 * The data half of a sweep: generate (optional) → preprocess → profile →
 * segregate, each as a `hotcold <stage>` child process writing under the sweep
 * directory. Each stage reuses its own output when its inputs and options are
 * unchanged (its manifest fingerprint), so calling them again is cheap.
 *
 *     <sweep>/data/synthetic.tsv (+ .json sidecar)   when `generate` is set
 *     <sweep>/preprocessed/   <sweep>/profile/   <sweep>/segregated/
 *     <sweep>/logs/<stage>.log
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PipelineError } from '../../pipeline/errors.js';
import { readManifest, type ManifestBase } from '../../pipeline/manifest.js';
import type { SweepConfig } from './config.js';
import { logTail, readJsonOrNull, type Launcher } from './runner.js';

/** The generator's Bayes-optimal reference (from the `<tsv>.json` sidecar). */
export interface BayesRef {
  auc: number;
  logloss: number | null;
  /** which sidecar field it came from */
  source: 'bayesTest' | 'bayes';
}

/** Where the prepared data lives, and the fingerprints that identify it. */
export interface PreparedData {
  inputs: string[];
  preprocessed: string;
  segregated: string | null;
  fingerprints: { preprocess: string; segregate: string | null };
  bayes: BayesRef | null;
}

interface Sidecar {
  magic?: string;
  rows?: number;
  seed?: number;
  scale?: number;
  days?: number;
  drift?: number;
  bayes?: { auc?: number; logloss?: number };
  bayesTest?: { auc?: number; logloss?: number };
}

function readSidecar(tsv: string): Sidecar | null {
  const s = readJsonOrNull<Sidecar>(`${tsv}.json`);
  return s?.magic === 'hotcold.generate' ? s : null;
}

/** Bayes-optimal AUC of a generated file (test-split value preferred), or null for real data. */
export function readBayes(tsv: string): BayesRef | null {
  const s = readSidecar(tsv);
  if (!s) return null;
  const t = s.bayesTest;
  if (t && typeof t.auc === 'number') return { auc: t.auc, logloss: t.logloss ?? null, source: 'bayesTest' };
  const b = s.bayes;
  if (b && typeof b.auc === 'number') return { auc: b.auc, logloss: b.logloss ?? null, source: 'bayes' };
  return null;
}

/** Run one stage as a child process; throw with the log tail when it fails. */
async function stage(launch: Launcher, name: string, args: string[], logsDir: string, log: (s: string) => void): Promise<void> {
  const logFile = join(logsDir, `${name}.log`);
  const t0 = performance.now();
  const r = await launch({ args: [name, ...args], logFile });
  if (r.exitCode !== 0) {
    throw new PipelineError('internal', `\`hotcold ${name}\` failed (${r.signal ? `killed by ${r.signal}` : `exit code ${String(r.exitCode)}`}); last lines of ${logFile}:\n${logTail(logFile)}`, {
      file: logFile,
      hint: `run \`hotcold ${name} ${args.join(' ')}\` to see the problem`,
    });
  }
  log(`sweep: ${name} ok (${((performance.now() - t0) / 1000).toFixed(1)}s, log ${logFile})`);
}

function opt(flag: string, v: string | number | undefined): string[] {
  return v === undefined ? [] : [flag, String(v)];
}

/**
 * Bring the data stages up to date for a sweep.
 * @param needHot whether any run is fae/slipstream (then profile + segregate run)
 */
export async function prepareData(
  c: SweepConfig,
  out: string,
  needHot: boolean,
  launch: Launcher,
  log: (s: string) => void,
): Promise<PreparedData> {
  const logs = join(out, 'logs');
  let inputs: string[];
  if (c.generate) {
    const g = c.generate;
    const tsv = join(out, 'data', 'synthetic.tsv');
    const s = readSidecar(tsv);
    const same =
      s !== null &&
      existsSync(tsv) &&
      s.rows === g.rows &&
      s.seed === g.seed &&
      (g.scale === undefined || s.scale === g.scale) &&
      (g.days === undefined || s.days === g.days) &&
      (g.drift === undefined || s.drift === g.drift);
    if (same) log(`sweep: generate reused (${tsv})`);
    else {
      mkdirSync(dirname(tsv), { recursive: true });
      await stage(
        launch,
        'generate',
        ['--rows', String(g.rows), '--seed', String(g.seed), '--out', tsv, ...opt('--scale', g.scale), ...opt('--days', g.days), ...opt('--drift', g.drift)],
        logs,
        log,
      );
    }
    inputs = [tsv];
  } else {
    inputs = c.input ?? [];
    for (const f of inputs) if (!existsSync(f)) throw new PipelineError('not_found', `sweep input not found: ${f}`, { file: f });
  }

  const p = c.preprocess;
  const preprocessed = join(out, 'preprocessed');
  await stage(
    launch,
    'preprocess',
    [
      '--input',
      ...inputs,
      '--out',
      preprocessed,
      ...opt('--split', p.split),
      ...opt('--ratios', p.ratios?.join(',')),
      ...opt('--seed', p.seed),
      ...opt('--freq-threshold', p.freqThreshold),
      ...opt('--max-ind-range', p.maxIndRange),
      ...opt('--on-bad-line', p.onBadLine),
      ...opt('--rows-per-shard', p.rowsPerShard),
    ],
    logs,
    log,
  );
  const pre = readManifest<ManifestBase>(preprocessed, 'preprocess');

  let segregated: string | null = null;
  let segFp: string | null = null;
  if (needHot) {
    const profile = join(out, 'profile');
    await stage(launch, 'profile', ['--data', preprocessed, '--out', profile, '--sample-rate', String(c.profile.sampleRate), '--seed', String(c.profile.seed)], logs, log);
    segregated = join(out, 'segregated');
    const s = c.segregate;
    const hot = s.hotMinCount !== undefined ? ['--hot-min-count', String(s.hotMinCount)] : ['--hot-mem', String(s.hotMem ?? '256MiB')];
    await stage(launch, 'segregate', ['--data', preprocessed, '--profile', profile, '--out', segregated, ...hot, '--dim', String(s.dim)], logs, log);
    segFp = readManifest<ManifestBase>(segregated, 'segregate').fingerprint;
  }
  return {
    inputs,
    preprocessed,
    segregated,
    fingerprints: { preprocess: pre.fingerprint, segregate: segFp },
    bayes: inputs.length > 0 ? readBayes(inputs[0]!) : null,
  };
}
