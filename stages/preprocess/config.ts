/**
 * preprocess options: the schema, its defaults (each declared once), and
 * validation that names the bad field. The resolved options are written into
 * the manifest and hashed into its fingerprint.
 */
import { z } from 'zod';
import type { PreprocessOptions } from '../../datasets/preprocessed.js';
import { parseConfig } from '../../pipeline/config.js';
import { DEFAULT_OPTIONS } from './defaults.js';

export { DEFAULT_OPTIONS };


const ratios = z
  .tuple([z.number().min(0), z.number().min(0), z.number().min(0)])
  .refine((r) => Math.abs(r[0] + r[1] + r[2] - 1) < 1e-6, { message: 'ratios must sum to 1 (train, val, test)' })
  .refine((r) => r[0] > 0, { message: 'the train ratio must be > 0' });

export const preprocessOptionsSchema = z
  .object({
    split: z.enum(['kaggle', 'days', 'random']).default(DEFAULT_OPTIONS.split),
    ratios: ratios.default(DEFAULT_OPTIONS.ratios!),
    seed: z.number().int().default(DEFAULT_OPTIONS.seed!),
    freqThreshold: z.number().int().min(0).default(DEFAULT_OPTIONS.freqThreshold),
    maxIndRange: z.number().int().min(0).max(0xffffffff).default(DEFAULT_OPTIONS.maxIndRange),
    onBadLine: z.enum(['error', 'skip']).default(DEFAULT_OPTIONS.onBadLine),
    rowsPerShard: z.number().int().min(1).max(16_000_000).default(DEFAULT_OPTIONS.rowsPerShard),
    format: z.enum(['auto', 'tsv', 'csv', 'avazu', 'avazu-slipstream']).default(DEFAULT_OPTIONS.format),
  })
  .strict();

/**
 * Validate and complete options (defaults filled in). Options that do not apply
 * to the chosen split (ratios, seed) are dropped so they do not change the fingerprint.
 * @throws PipelineError `bad_config` listing every bad field
 */
export function resolveOptions(input: Partial<PreprocessOptions>): PreprocessOptions {
  const o = parseConfig(preprocessOptionsSchema, input, 'preprocess options') as PreprocessOptions;
  if (o.split !== 'random') {
    delete o.ratios;
    delete o.seed;
  }
  return o;
}
