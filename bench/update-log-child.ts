/**
 * One training process of `bench/update-log.ts`: trains the bench's run with `--log`, and either
 * SIGKILLs itself right after step `--kill-at` (no cleanup: queued XADDs, a checkpoint being written
 * on the writer thread, all die with it) or finishes and writes its final parameters to `--params`.
 *
 *     tsx bench/update-log-child.ts --data D --hot H --out O --log redis://…?prefix=P --params F [--kill-at K] [--resume]
 */
import { writeFileSync } from 'node:fs';
import { resolveTrainConfig } from '../stages/train/config.js';
import { train } from '../stages/train/train.js';
import type { Trainer } from '../stages/train/trainer.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The bench's run: FAE on the test fixture's planted data (26 tables), small model. */
export const BENCH_RUN = {
  model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' },
  train: { batchSize: 128, epochs: 2, evalEvery: 0, logEvery: 10 },
  fae: { rounds: 4 },
  mode: 'fae' as const,
};
/** checkpoint (dense save) every 6 steps, a full base after 2 increments; log entries every 2 steps */
export const BENCH_CK = { every: 6, everySec: 0, threshold: 0, fullEvery: 2 };
export const LOG_EVERY = 2;

/** dense params, dense optimizer state, host tables (weights, accumulators) after the final sync, concatenated. */
export function paramBytes(t: Trainer): Buffer {
  const arrays = [t.model.params, t.denseOpt.state!, ...t.device.tables.flatMap((x) => [x.weights, x.accum!])];
  return Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength)));
}

if (process.argv[1]?.endsWith('update-log-child.ts')) {
  const killAt = arg('kill-at') === undefined ? -1 : Number(arg('kill-at'));
  const paramsOut = arg('params');
  await train({
    config: resolveTrainConfig(BENCH_RUN), data: arg('data')!, hot: arg('hot'), out: arg('out')!, quiet: true, resume: process.argv.includes('--resume'),
    checkpoint: { ...BENCH_CK, log: { address: arg('log')!, every: LOG_EVERY } },
    hooks: {
      afterStep: (n) => { if (n === killAt) process.kill(process.pid, 'SIGKILL'); },
      onFinish: (t) => { if (paramsOut) writeFileSync(paramsOut, paramBytes(t)); },
    },
  });
}
