/**
 * Stage `train`: DLRM training in baseline, FAE and Slipstream modes.
 *
 *     import { run, loadTrainConfig } from './stages/train/index.js';
 *     const metrics = await run({ config: loadTrainConfig('configs/fae-small.json'), data, hot, out });
 */
import type { RunMetrics } from '../../pipeline/run-metrics.js';
import { train, type TrainOptions } from './train.js';

export { loadTrainConfig, resolveTrainConfig, trainConfigSchema, type TrainConfig } from './config.js';
export { readRunMetrics, train, type CheckpointFlags, type TrainOptions } from './train.js';

/** Run the stage (the stage contract's `run`). */
export function run(opts: TrainOptions): Promise<RunMetrics> {
  return train(opts);
}
