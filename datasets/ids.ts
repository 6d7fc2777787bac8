/**
 * The id convention of a preprocessed dataset (see `datasets/preprocessed.ts`): per
 * categorical feature, id 0 = missing, id 1 = out-of-vocabulary, ids 2.. = values in
 * order of first appearance. A module of its own so that the preprocess path imports
 * the constants without `preprocessed.ts`'s shard reader (apache-arrow).
 */
export const MISSING_ID = 0;
export const OOV_ID = 1;
export const FIRST_VALUE_ID = 2;
