/**
 * The directories a train run writes — the run directory (`--out`) and the
 * checkpoint directory (`--checkpoint-dir`, default `<out>/checkpoints`) — claimed
 * through pipeline/outdir.ts: neither may overlap `--data` or `--hot`, each is
 * locked for the run, and neither is cleaned unless hotcold train wrote it.
 */
import { join } from 'node:path';
import { checkNoOverlap, claimDir, isWithin, realResolve, type DirClaim, type PathArg } from '../../pipeline/outdir.js';
import { acquireLock } from '../../pipeline/lock.js';
import type { ProgressSink } from '../../pipeline/progress.js';
import { DATA_RE, MANIFEST_RE, TMP_RE } from './checkpoint/format.js';

/** What {@link claimRunDirs} needs of the train options. */
export interface RunDirOptions {
  data: string;
  hot?: string;
  out: string;
  checkpoint?: { dir?: string };
  forceClean?: boolean;
}

/** The claimed directories of one run. */
export interface RunClaims {
  out: DirClaim;
  /** where checkpoints go (absolute) */
  checkpointDir: string;
  /** the lock on the checkpoint directory (a full claim when it lies outside the run directory) */
  checkpoints: { release(): void };
}

/** True when every entry is a checkpoint file (committed, data or temporary). */
export function looksLikeCheckpoints(names: string[]): boolean {
  return names.length > 0 && names.every((n) => MANIFEST_RE.test(n) || DATA_RE.test(n) || TMP_RE.test(n) || n.startsWith('.hotcold'));
}

/**
 * Claim the run directory and, when it lies elsewhere, the checkpoint directory.
 * @throws PipelineError `unsafe_output` (overlap with an input, foreign contents) | `locked`
 */
export function claimRunDirs(o: RunDirOptions): RunClaims {
  const inputs: PathArg[] = [{ flag: '--data', path: o.data }];
  if (o.hot) inputs.push({ flag: '--hot', path: o.hot });
  // every overlap is refused before either directory is touched
  const given = o.checkpoint?.dir;
  checkNoOverlap([{ flag: '--out', path: o.out }, ...(given ? [{ flag: '--checkpoint-dir', path: given }] : [])], inputs);
  const out = claimDir({ dir: o.out, kind: 'train', inputs, forceClean: o.forceClean });
  try {
    const checkpointDir = given ? realResolve(given) : join(out.dir, 'checkpoints');
    // locked as well when inside the run directory, so `hotcold checkpoint compact` waits its turn
    const checkpoints = given && !isWithin(checkpointDir, out.dir)
      ? claimDir({ dir: given, kind: 'checkpoint', flag: '--checkpoint-dir', inputs, forceClean: o.forceClean, recognise: looksLikeCheckpoints })
      : acquireLock(checkpointDir, 'train', stderrWarn);
    return { out, checkpointDir, checkpoints };
  } catch (e) {
    out.release();
    throw e;
  }
}

const stderrSink: ProgressSink = { isTTY: false, write: (s) => process.stderr.write(s) };
const stderrWarn = (m: string): void => {
  process.stderr.write(`hotcold: ${m}\n`);
};

/** Where notices go under --quiet: the caller's sink, else stderr. */
export function noticeSink(sink: ProgressSink | undefined): { log(msg: string): void } {
  const s = sink ?? stderrSink;
  return { log: (msg) => s.write(`${msg}\n`) };
}
