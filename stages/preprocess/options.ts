/**
 * Options without zod: the preprocess path validates the common case (known keys,
 * valid values) by hand, and only what this check cannot vouch for goes through the
 * zod schema of config.ts (loaded on demand), which then gives the same result or
 * the listed `bad_config` error. Saves loading ≈ 750 KB of bundled zod on every run.
 * The resolved object has the schema's key order (it is hashed into the fingerprint
 * and written into the manifest): test/stages/preprocess-options.test.ts compares
 * both paths.
 */
import type { PreprocessOptions } from '../../datasets/preprocessed.js';
import { DEFAULT_OPTIONS } from './defaults.js';

const SPLITS: readonly string[] = ['kaggle', 'days', 'random'];
const BAD_LINE: readonly string[] = ['error', 'skip'];
const FORMATS: readonly string[] = ['auto', 'tsv', 'csv', 'avazu', 'avazu-slipstream'];
const KEYS = new Set(['split', 'ratios', 'seed', 'freqThreshold', 'maxIndRange', 'onBadLine', 'rowsPerShard', 'format']);

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

/**
 * The resolved options when `input` is plainly valid (what config.ts's
 * `resolveOptions` returns for it), else null: the caller asks the schema.
 */
export function resolveOptionsFast(input: Partial<PreprocessOptions>): PreprocessOptions | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return null;
  for (const k of Object.keys(input)) if (!KEYS.has(k)) return null;
  const pick = <K extends keyof PreprocessOptions>(k: K): PreprocessOptions[K] => (input[k] === undefined ? DEFAULT_OPTIONS[k] : input[k]) as PreprocessOptions[K];
  const split = pick('split');
  const ratios = pick('ratios');
  const seed = pick('seed');
  const freqThreshold = pick('freqThreshold');
  const maxIndRange = pick('maxIndRange');
  const onBadLine = pick('onBadLine');
  const rowsPerShard = pick('rowsPerShard');
  const format = pick('format');
  if (typeof split !== 'string' || !SPLITS.includes(split)) return null;
  if (!Array.isArray(ratios) || ratios.length !== 3 || !ratios.every((r) => typeof r === 'number' && Number.isFinite(r) && r >= 0)) return null;
  if (Math.abs(ratios[0] + ratios[1] + ratios[2] - 1) >= 1e-6 || !(ratios[0] > 0)) return null;
  if (!isInt(seed, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)) return null;
  if (!isInt(freqThreshold, 0, Number.MAX_SAFE_INTEGER) || !isInt(maxIndRange, 0, 0xffffffff)) return null;
  if (typeof onBadLine !== 'string' || !BAD_LINE.includes(onBadLine)) return null;
  if (!isInt(rowsPerShard, 1, 16_000_000)) return null;
  if (typeof format !== 'string' || !FORMATS.includes(format)) return null;
  const o: PreprocessOptions = { split, ratios: [ratios[0], ratios[1], ratios[2]], seed, freqThreshold, maxIndRange, onBadLine, rowsPerShard, format };
  if (o.split !== 'random') {
    delete o.ratios;
    delete o.seed;
  }
  return o;
}
