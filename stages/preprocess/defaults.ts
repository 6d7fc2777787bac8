/** preprocess option defaults, declared once (the schema in config.ts uses them; its own file so the CLI's help loads no zod). */
import type { PreprocessOptions } from '../../datasets/preprocessed.js';

export const DEFAULT_OPTIONS: PreprocessOptions = {
  split: 'kaggle', // DLRM's 7 pseudo-days: 0–5 train, day 6 → test | val halves
  ratios: [0.8, 0.1, 0.1], // random split only: train, val, test
  seed: 0, // random split only
  freqThreshold: 0, // 0/1 = keep every value; N = values seen < N times → OOV id 1
  maxIndRange: 0, // 0 = no hashing; R = value % R before mapping
  onBadLine: 'error', // or 'skip' (counted, first 10 kept in the manifest)
  rowsPerShard: 262_144, // 2^18 rows ≈ 41 MB of columns per shard
  format: 'auto', // sniffed from the first line: tabs → tsv, commas → csv
};
