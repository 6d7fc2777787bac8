/**
 * Criteo facts in one place. Column names derive from the counts.
 * Source: Criteo Display Advertising Challenge (Kaggle) and Criteo 1TB click logs;
 * raw line = `label \t I1..I13 \t C1..C26`, empty field = missing.
 */

/** Integer (dense) features I1..I13. */
export const INT_FEATURE_COUNT = 13;
/** Categorical features C1..C26, 8 hex digits each (32-bit). */
export const CAT_FEATURE_COUNT = 26;
/** label + 13 + 26 */
export const FIELD_COUNT = 1 + INT_FEATURE_COUNT + CAT_FEATURE_COUNT;

export const INT_COLUMNS: readonly string[] = Array.from({ length: INT_FEATURE_COUNT }, (_, i) => `I${i + 1}`);
export const CAT_COLUMNS: readonly string[] = Array.from({ length: CAT_FEATURE_COUNT }, (_, i) => `C${i + 1}`);
export const LABEL_COLUMN = 'label';
export const ALL_COLUMNS: readonly string[] = [LABEL_COLUMN, ...INT_COLUMNS, ...CAT_COLUMNS];

/** Rows in Kaggle `train.txt` (DLRM's `dac` loader). */
export const KAGGLE_TOTAL_ROWS = 45_840_617;
/** Kaggle is split into 7 pseudo-days in file order (DLRM). */
export const KAGGLE_DAYS = 7;

/**
 * Per-feature cardinalities of C1..C26 after DLRM's categorify of the full Kaggle
 * file (no hashing, all 7 days); 33,762,577 rows in total. From ../shared/data/README.md.
 */
export const KAGGLE_CARDINALITIES: readonly number[] = [
  1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27, 14992, 5461306, 10, 5652, 2173,
  4, 7046547, 18, 15, 286181, 105, 142572,
];
