/**
 * The segregated-dataset contract: what `hotcold segregate` commits and what
 * `hotcold train` reads in fae / slipstream modes.
 *
 * Layout of a segregated directory:
 *
 *     manifest.json              SegregateManifest (committed last)
 *     hot-map.bin                hot index → (table, row): Int32 pairs, little endian,
 *                                [table_0, row_0, table_1, row_1, ...], length 2·hotRows
 *     shards/hot-00000.arrow     hot training inputs; C1..C26 hold *hot indices*
 *     shards/cold-00000.arrow    cold training inputs; C1..C26 hold original ids
 *     report.json, skew.svg, skew.png, skew.csv
 *
 * Hot indices are grouped by table: table t's hot rows occupy
 * [hotOffsets[t], hotOffsets[t+1]) in ascending row order, so the concatenated
 * hot table is `hotRows × dim` floats. Only the training split is segregated;
 * validation and test stay in the preprocessed directory.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, type ManifestBase } from '../pipeline/manifest.js';
import { PipelineError } from '../pipeline/errors.js';
import type { SplitInfo } from './preprocessed.js';

export interface SegregateManifest extends ManifestBase {
  magic: 'hotcold.segregate';
  /** the preprocessed dataset this was made from */
  data: { dir: string; fingerprint: string };
  /** the profile used */
  profile: { dir: string; fingerprint: string; sampleRate: number; seed: number };
  dim: number;
  /** how the hot set was chosen */
  selection: { by: 'memory'; budgetBytes: number } | { by: 'count'; minCount: number };
  hotRows: number;
  hotRowsPerTable: number[];
  /** length 27: start of each table's block in the hot table, then hotRows */
  hotOffsets: number[];
  hotMapFile: string;
  splits: { hot: SplitInfo; cold: SplitInfo };
  report: SegregateReport;
}

export interface SegregateReport {
  hotRows: number;
  hotRowsPerTable: number[];
  hotInputs: number;
  coldInputs: number;
  /** hot inputs / all training inputs */
  hotInputShare: number;
  /** share of all training lookups that hit the hot set */
  hotLookupShare: number;
  /** bytes of the hot table (hotRows · dim · 4) */
  hotTableBytes: number;
}

export function openSegregated(dir: string): SegregateManifest {
  return readManifest<SegregateManifest>(dir, 'segregate');
}

/** Load the hot map as (table, row) pairs. */
export function readHotMap(dir: string, m: SegregateManifest): { table: Int32Array; row: Int32Array } {
  const p = join(dir, m.hotMapFile);
  const buf = readFileSync(p);
  if (buf.byteLength !== m.hotRows * 8) {
    throw new PipelineError('checksum', `hot map has ${buf.byteLength} bytes, expected ${m.hotRows * 8}`, { file: p });
  }
  const pairs = new Int32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const table = new Int32Array(m.hotRows);
  const row = new Int32Array(m.hotRows);
  for (let i = 0; i < m.hotRows; i++) {
    table[i] = pairs[2 * i]!;
    row[i] = pairs[2 * i + 1]!;
  }
  return { table, row };
}
