/** Options of `hotcold profile`, their defaults and their checks. */
import { badConfig } from '../../pipeline/errors.js';

export interface ProfileConfig {
  /** preprocessed dataset directory (`hotcold preprocess --out`) */
  data: string;
  /** output directory of the profile */
  out: string;
  /** probability that a training input is sampled, in (0, 1]; @default 0.05 (FAE) */
  sampleRate: number;
  /** seed of the sample; @default 1 */
  seed: number;
  /** rewrite even when a profile with the same fingerprint exists; @default false */
  force?: boolean;
  /** replace an --out directory that holds something other than this stage's output */
  forceClean?: boolean;
}

export const PROFILE_DEFAULTS = {
  /** FAE samples 5 % of the training inputs */
  sampleRate: 0.05,
  seed: 1,
} as const;

/**
 * Check a profile config.
 * @throws PipelineError `bad_config` for a sample rate outside (0, 1] or a non-integer seed.
 */
export function checkProfileConfig(c: ProfileConfig): void {
  if (!(c.sampleRate > 0 && c.sampleRate <= 1)) {
    throw badConfig('--sample-rate', `must be in (0, 1], got ${String(c.sampleRate)}`, 'FAE profiles 5 % of the inputs: --sample-rate 0.05');
  }
  if (!Number.isInteger(c.seed)) throw badConfig('--seed', `must be an integer, got ${String(c.seed)}`);
  if (!c.data) throw badConfig('--data', 'is required');
  if (!c.out) throw badConfig('--out', 'is required');
}
