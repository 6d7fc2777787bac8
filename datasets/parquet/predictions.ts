/**
 * Per-row predictions as Parquet: `row` INT32, `label` INT32, `probability` FLOAT (exact float32);
 * no `label` column for an unlabelled input.
 */
import { parquetWriteFile } from 'hyparquet-writer';

/** Write predictions to `path` (the caller renames it into place); `labels` null = no label column. */
export function writePredictionsParquet(path: string, labels: Int32Array | null, probs: Float32Array): void {
  const row = new Int32Array(probs.length);
  for (let i = 0; i < row.length; i++) row[i] = i;
  parquetWriteFile({
    filename: path,
    codec: 'SNAPPY',
    rowGroupSize: 1 << 20,
    columnData: [
      { name: 'row', data: row, type: 'INT32', nullable: false },
      ...(labels ? [{ name: 'label', data: labels, type: 'INT32' as const, nullable: false }] : []),
      { name: 'probability', data: probs, type: 'FLOAT', nullable: false },
    ],
  });
}
