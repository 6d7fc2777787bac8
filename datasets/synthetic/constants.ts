/**
 * Calibration constants of the synthetic Criteo generator, measured on the real
 * Kaggle sample `../shared/data/criteo/kaggle-train-head-8000.tsv` (the first
 * 8,000 lines of Kaggle `train.txt`; CTR 21.6 %, 14.6 % of the 39 feature cells
 * empty). Cardinalities come from `datasets/criteo/constants.ts`.
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../criteo/constants.js';
import { PipelineError } from '../../pipeline/errors.js';

/** Magic string of the sidecar `<out>.json`. */
export const GENERATE_MAGIC = 'hotcold.generate';
/** Sidecar format version; bump when a field changes meaning. */
export const GENERATE_FORMAT_VERSION = 1;

/**
 * Default `--scale`: cardinalities are Kaggle's × 0.01, i.e. 337k embedding rows in
 * all (largest table C3: 101,312 rows), which a 2-core machine trains comfortably.
 */
export const DEFAULT_SCALE = 0.01;
/** Default number of "days" (Kaggle is split into 7 pseudo-days). */
export const DEFAULT_DAYS = 7;
/** Default target CTR (Kaggle `train.txt`: 25.6 %). */
export const DEFAULT_CTR = 0.25;
/**
 * Default target Bayes-optimal AUC of the planted model. DLRM-style models reach
 * 0.79–0.805 on real Kaggle, so a planted ceiling of 0.80 leaves a gap that a
 * trainer can close or not.
 */
export const DEFAULT_AUC = 0.8;
/** Smallest table a feature gets after scaling (unless Kaggle's is smaller: C9 has 3 values). */
export const MIN_CARDINALITY = 10;

/** Zipf exponent of every feature's popularity: p(rank r) ∝ (r + 1 + q)^-s. */
export const ZIPF_EXPONENT = 1.1;

/**
 * Share of the most popular value of C1..C26 among the non-missing cells of the head
 * sample (e.g. C1 `05db9164` 49.9 %, C9 `a73ee510` 88.7 %). Each feature's Zipf
 * offset q is fitted so that its full-Kaggle-size table has this top share.
 */
export const TOP_SHARE: readonly number[] = [
  0.499, 0.122, 0.05, 0.078, 0.668, 0.526, 0.011, 0.595, 0.887, 0.276, 0.02, 0.05, 0.022, 0.361, 0.02, 0.05, 0.43, 0.051,
  0.596, 0.355, 0.05, 0.524, 0.447, 0.08, 0.33, 0.086,
];

/** Fraction of empty cells of I1..I13 in the head sample. */
export const INT_MISSING_RATE: readonly number[] = [
  0.4515, 0.0, 0.2025, 0.2034, 0.0495, 0.2517, 0.0498, 0.0011, 0.0498, 0.4515, 0.0498, 0.7768, 0.2034,
];

/** Fraction of empty cells of C1..C26 in the head sample. */
export const CAT_MISSING_RATE: readonly number[] = [
  0.0, 0.0, 0.0331, 0.0331, 0.0, 0.1309, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0331, 0.0, 0.0, 0.0, 0.0331, 0.0, 0.0, 0.4529, 0.4529,
  0.0331, 0.8173, 0.0, 0.0331, 0.4529, 0.4529,
];

/** Probability points of {@link INT_QUANTILES}. */
export const INT_QUANTILE_P: readonly number[] = [
  0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999, 1,
];

/**
 * Empirical quantiles of the non-missing values of I1..I13 in the head sample at
 * {@link INT_QUANTILE_P}: heavy-tailed counts (I5 median 2,796, max 1.6M) and
 * negatives in I2 (10 % of its cells are -1 or -2).
 */
export const INT_QUANTILES: readonly (readonly number[])[] = [
  [0, 0, 0, 0, 0, 0, 1, 1, 2, 4, 8, 15, 30, 44, 61, 88, 214], // I1
  [-2, -1, 0, 0, 1, 1, 3, 9, 25, 59, 188, 556, 1392, 2167, 2849, 3582, 18522], // I2
  [0, 1, 1, 2, 3, 5, 7, 10, 16, 27, 51, 94, 183, 306, 527, 3446, 65535], // I3
  [0, 0, 1, 1, 2, 3, 4, 6, 9, 13, 20, 28, 38, 44, 52, 79, 280], // I4
  [0, 4, 14, 126, 581, 1526, 2796, 4538, 7879, 15700, 32526, 51333, 166959, 302819, 488211, 808266, 1618112], // I5
  [0, 0, 2, 7, 14, 25, 41, 64, 101, 175, 341, 590, 1081, 1740, 2249, 4452, 12167], // I6
  [0, 0, 0, 0, 1, 2, 3, 5, 8, 14, 30, 57, 119, 190, 314, 613, 1658], // I7
  [0, 0, 0, 1, 3, 5, 7, 11, 17, 24, 34, 42, 47, 48, 49, 70, 547], // I8
  [0, 1, 2, 7, 15, 27, 42, 64, 100, 162, 311, 503, 887, 1229, 1623, 3154, 5639], // I9
  [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 4, 4], // I10
  [0, 0, 0, 0, 1, 1, 1, 1, 2, 3, 5, 8, 15, 22, 29, 52, 79], // I11
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 9, 12, 21, 39, 98], // I12
  [0, 0, 1, 1, 2, 4, 5, 8, 11, 16, 27, 38, 52, 72, 109, 305, 770], // I13
];

/**
 * Planted pairwise interactions (0-based categorical feature indices): products of two
 * small, popular features, which a dot-interaction model can pick up.
 */
export const INTERACTION_PAIRS: readonly (readonly [number, number])[] = [
  [0, 5], // C1 × C6
  [8, 19], // C9 × C20
  [13, 22], // C14 × C23
  [16, 24], // C17 × C25
];

/**
 * Per-value weights decay with popularity rank r as 1/sqrt(1 + r/WEIGHT_DECAY_RANK),
 * so popular values carry learnable signal and rare ones little.
 */
export const WEIGHT_DECAY_RANK = 64;
/** Values with rank below this are "popular": only they drift between days. */
export const DRIFT_POPULAR_RANKS = 1000;
/** Rows simulated (from their own Rng stream) to fit the planted bias and temperature. */
export const CALIBRATION_ROWS = 25_000;

if (TOP_SHARE.length !== CAT_FEATURE_COUNT || CAT_MISSING_RATE.length !== CAT_FEATURE_COUNT) {
  throw new PipelineError('internal', 'synthetic constants: categorical tables must have 26 entries');
}
if (INT_MISSING_RATE.length !== INT_FEATURE_COUNT || INT_QUANTILES.length !== INT_FEATURE_COUNT) {
  throw new PipelineError('internal', 'synthetic constants: integer tables must have 13 entries');
}
