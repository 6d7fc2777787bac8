/** Recognising a Parquet file without loading a Parquet library. */
import { closeSync, openSync, readSync } from 'node:fs';

/** True when the file starts with Parquet's magic `PAR1`. */
export function isParquetFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'PAR1';
  } finally {
    closeSync(fd);
  }
}
