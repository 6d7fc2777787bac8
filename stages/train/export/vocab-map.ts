/**
 * The sidecar vocabulary map of an export: raw categorical value → row id, per table, as JSON
 * a PyTorch user can look rows up with (`vocab["tables"]["C1"]["05db9164"]` → row of emb_l.0):
 *
 *     { "missing_id": 0, "oov_id": 1, "max_ind_range": 0,
 *       "tables": { "C1": { "05db9164": 2, "68fd1e64": 3, … }, …, "C26": { … } } }
 *
 * Values are 8 lowercase hex digits, as in the raw Criteo files. With `max_ind_range` R > 0 the
 * keys are `value % R` (DLRM's hashing): hash a raw value before looking it up. An empty field
 * is row `missing_id`; a value not in the map is row `oov_id`. Written in 1 MiB chunks.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { CAT_COLUMNS } from '../../../datasets/criteo/constants.js';
import { FIRST_VALUE_ID, MISSING_ID, OOV_ID } from '../../../datasets/preprocessed.js';

/** Write the map; returns bytes written. The file is fsynced (the export's manifest commits it). */
export function writeVocabMap(path: string, values: readonly Uint32Array[], maxIndRange: number): number {
  const fd = openSync(path, 'w');
  let bytes = 0;
  let chunk = '';
  const put = (s: string): void => {
    chunk += s;
    if (chunk.length >= 1 << 20) flush();
  };
  const flush = (): void => {
    const b = Buffer.from(chunk, 'utf8');
    let o = 0;
    while (o < b.length) o += writeSync(fd, b, o, b.length - o);
    bytes += b.length;
    chunk = '';
  };
  try {
    put(`{"missing_id":${MISSING_ID},"oov_id":${OOV_ID},"max_ind_range":${maxIndRange},"tables":{`);
    values.forEach((v, t) => {
      put(`${t > 0 ? ',' : ''}"${CAT_COLUMNS[t]!}":{`);
      for (let k = 0; k < v.length; k++) put(`${k > 0 ? ',' : ''}"${v[k]!.toString(16).padStart(8, '0')}":${FIRST_VALUE_ID + k}`);
      put('}');
    });
    put('}}\n');
    flush();
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return bytes;
}
