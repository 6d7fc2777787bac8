/**
 * Avazu facts in one place (Kaggle "Click-Through Rate Prediction", 2014): a CSV with a header
 * of 24 columns, `id, click, hour, C1, banner_pos, site_id, …, C21`; `hour` is YYMMDDHH (UTC),
 * the rows cover 2014-10-21 … 2014-10-30 (train) in time order.
 *
 * hotcold reads Avazu into its Criteo-shaped rows (13 dense, 26 categorical slots) so every
 * stage and the model run unchanged:
 *
 *     Avazu                               hotcold slot
 *     click                               label
 *     hour → hour of day (0–23)           I1 (dense) and C22 (categorical)
 *     hour → weekday (0 = Monday … 6)     I2 (dense) and C23 (categorical)
 *     C1, banner_pos, site_id, …, C21     C1..C21 (21 categoricals, in file order)
 *     —                                   I3..I13, C24..C26 missing (one id: 0)
 *     id                                  dropped (unique per row)
 *
 * Categorical values: the hash-like columns are 8 hex digits (as Criteo's) and read as uint32;
 * the integer columns (C1, banner_pos, device_type, device_conn_type, C14..C21) are read as
 * decimal integers (−1 → 0xFFFFFFFF, as a uint32 cast). Slipstream's Avazu loader splits rows at
 * random into 4/5 train and 1/10 val + 1/10 test: `preprocess --split random --ratios 0.8,0.1,0.1`.
 */

/**
 * How an Avazu row fills hotcold's slots:
 *
 *     hotcold      (default) the table above: hour → hour of day and weekday, each both dense
 *                  (I1, I2) and categorical (C22, C23); 21 + 2 categoricals, 2 dense
 *     slipstream   Slipstream's model (anonymous6116/Slipstream, dlrm_data_avazu_pytorch.py):
 *                  ONE dense feature — the row's third column, `hour`, read as its hour of day
 *                  (0–23) into I1 — and the 21 columns after it as categoricals C1..C21;
 *                  I2..I13 and C22..C26 missing. Its loader reads a SQLite table `data_cleaned`
 *                  as (?, click, dense, categoricals…) with `m_den = 1`; the script that built that
 *                  table is not public, so the dense value's exact form (raw YYMMDDHH, hour of day,
 *                  scaled) is not known: hour of day is our reading, not a copy.
 */
export type AvazuLayout = 'hotcold' | 'slipstream';

/** The 24 header names, in order. */
export const AVAZU_COLUMNS: readonly string[] = [
  'id', 'click', 'hour', 'C1', 'banner_pos', 'site_id', 'site_domain', 'site_category', 'app_id', 'app_domain',
  'app_category', 'device_id', 'device_ip', 'device_model', 'device_type', 'device_conn_type',
  'C14', 'C15', 'C16', 'C17', 'C18', 'C19', 'C20', 'C21',
];

/**
 * The 23 header names of Avazu's unlabelled `test.csv` (the same columns without `click`),
 * scored by `hotcold predict --input` (labels absent).
 */
export const AVAZU_TEST_COLUMNS: readonly string[] = AVAZU_COLUMNS.filter((c) => c !== 'click');

/** Index of the first categorical column (C1) in a labelled row (one less in an unlabelled one). */
export const AVAZU_FIRST_CAT = 3;
/** Categorical columns C1..C21 (21). */
export const AVAZU_CAT_COUNT = AVAZU_COLUMNS.length - AVAZU_FIRST_CAT;

/** Columns holding 8-hex-digit hashes; the others are decimal integers. */
export const AVAZU_HEX_COLUMNS: ReadonlySet<string> = new Set([
  'site_id', 'site_domain', 'site_category', 'app_id', 'app_domain', 'app_category', 'device_id', 'device_ip', 'device_model',
]);

/** hotcold slots of the expanded hour (0-based categorical slots 21, 22 = C22, C23). */
export const HOUR_OF_DAY_SLOT = AVAZU_CAT_COUNT;
export const WEEKDAY_SLOT = AVAZU_CAT_COUNT + 1;
