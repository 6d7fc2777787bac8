/**
 * A preprocessed shard as a Parquet file (hyparquet-writer), for tools that read Parquet
 * (DuckDB, pandas/pyarrow, Spark, NVTabular):
 *
 *     label INT32 (0/1) | I1..I13 FLOAT (log-transformed, as in the shard) | C1..C26 INT32 (row ids)
 *
 * Lossless: every value of the Arrow shard comes back bit for bit (float32 stays FLOAT).
 * Snappy-compressed, one row group per 262,144 rows. Not the training format: the Arrow IPC
 * shards are read zero-copy, a Parquet file has to be decoded page by page.
 */
import { parquetWriteFile } from 'hyparquet-writer';
import type { ShardColumns } from '../shards.js';
import { CAT_COLUMNS, INT_COLUMNS, LABEL_COLUMN } from '../criteo/constants.js';

/** Rows per Parquet row group. */
export const PARQUET_ROW_GROUP = 262_144;

/** Write `cols` to `path` (not renamed: the caller's manifest commits it). */
export function writeShardParquet(path: string, cols: ShardColumns): void {
  parquetWriteFile({
    filename: path,
    codec: 'SNAPPY',
    rowGroupSize: PARQUET_ROW_GROUP,
    columnData: [
      { name: LABEL_COLUMN, data: Int32Array.from(cols.label), type: 'INT32', nullable: false },
      ...cols.dense.map((d, i) => ({ name: INT_COLUMNS[i]!, data: d, type: 'FLOAT' as const, nullable: false })),
      ...cols.cats.map((c, i) => ({ name: CAT_COLUMNS[i]!, data: c, type: 'INT32' as const, nullable: false })),
    ],
    kvMetadata: [{ key: 'hotcold', value: 'preprocessed shard: label 0/1, I* = ln(1+max(x,0)), C* = row ids (0 missing, 1 OOV)' }],
  });
}
