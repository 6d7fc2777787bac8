import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../stages/preprocess/config.js';
import { resolveOptionsFast } from '../../stages/preprocess/options.js';
import type { PreprocessOptions } from '../../datasets/preprocessed.js';

/** What the zod schema says: the resolved options, or 'error'. */
function viaSchema(o: unknown): PreprocessOptions | 'error' {
  try {
    return resolveOptions(o as Partial<PreprocessOptions>);
  } catch {
    return 'error';
  }
}

describe('preprocess options without zod', () => {
  const valid: unknown[] = [
    {},
    { split: 'kaggle' },
    { split: 'days', onBadLine: 'skip', maxIndRange: 10_000_000, freqThreshold: 3 },
    { split: 'random', ratios: [0.8, 0.1, 0.1], seed: 1 },
    { split: 'random', ratios: [0.5, 0.25, 0.25], seed: -4, rowsPerShard: 1 },
    { split: 'random' },
    { format: 'csv', rowsPerShard: 16_000_000, maxIndRange: 0xffffffff },
    { format: 'avazu-slipstream', split: undefined, seed: undefined },
    { split: 'kaggle', ratios: [0.8, 0.1, 0.1], seed: 3 }, // dropped: they do not apply to kaggle
  ];
  const invalid: unknown[] = [
    { split: 'weekly' },
    { bogus: 1 },
    { rowsPerShard: 0 },
    { rowsPerShard: 16_000_001 },
    { rowsPerShard: 1.5 },
    { maxIndRange: -1 },
    { maxIndRange: 2 ** 32 },
    { freqThreshold: Number.NaN },
    { split: 'random', ratios: [0.5, 0.5, 0.5] },
    { split: 'random', ratios: [0, 0.5, 0.5] },
    { split: 'random', ratios: [0.5, 0.5] },
    { split: 'random', ratios: [0.5, 0.5, Infinity] },
    { onBadLine: 'warn' },
    { format: 'json' },
    { seed: '1' },
  ];

  it('resolves valid options exactly as the schema does (values and key order)', () => {
    for (const o of valid) {
      const fast = resolveOptionsFast(o as Partial<PreprocessOptions>);
      const slow = viaSchema(o);
      expect(fast, JSON.stringify(o)).not.toBeNull();
      expect(JSON.stringify(fast), JSON.stringify(o)).toBe(JSON.stringify(slow));
    }
  });

  it('hands everything else to the schema (which rejects these)', () => {
    for (const o of invalid) {
      expect(resolveOptionsFast(o as Partial<PreprocessOptions>), JSON.stringify(o)).toBeNull();
      expect(viaSchema(o), JSON.stringify(o)).toBe('error');
    }
  });
});
