/**
 * The access-profile contract: what `hotcold profile` commits and what
 * `hotcold segregate` (and reports) read.
 *
 * Layout of a profile directory:
 *
 *     manifest.json        ProfileManifest (committed last)
 *     counts/C1.bin ...    per table: Uint32 little endian, index = row id,
 *                          value = accesses of that row in the sampled training inputs
 *
 * Table t has `tableSizes[t]` rows (the preprocessed `vocab.sizes[t]`), so
 * `counts/C{t+1}.bin` is `4 · tableSizes[t]` bytes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifest, type ManifestBase } from '../pipeline/manifest.js';
import { PipelineError } from '../pipeline/errors.js';

export interface ProfileManifest extends ManifestBase {
  magic: 'hotcold.profile';
  /** the preprocessed dataset that was profiled (its manifest fingerprint) */
  data: { dir: string; fingerprint: string };
  /** Bernoulli sampling probability of each training input, in (0, 1] */
  sampleRate: number;
  seed: number;
  /** rows of the training split */
  trainRows: number;
  /** training inputs that were sampled and counted */
  sampledRows: number;
  /** rows per table (C1..C26) */
  tableSizes: number[];
  /** per-table count files, relative paths, in C1..C26 order */
  countFiles: string[];
  /** rows with a nonzero count, per table */
  nonzeroRows: number[];
  /** largest count per table */
  maxCount: number[];
}

/** Open a committed profile, checking magic and version. */
export function openProfile(dir: string): ProfileManifest {
  return readManifest<ProfileManifest>(dir, 'profile');
}

/** Load every table's counts (one Uint32Array per table, index = row id). */
export function readProfileCounts(dir: string, m: ProfileManifest): Uint32Array[] {
  return m.countFiles.map((rel, t) => {
    const p = join(dir, rel);
    let buf: Buffer;
    try {
      buf = readFileSync(p);
    } catch (e) {
      throw new PipelineError('not_found', `cannot read profile counts ${p}: ${(e as Error).message}`, {
        file: p,
        hint: 'run `hotcold profile` again',
      });
    }
    const rows = m.tableSizes[t] ?? -1;
    if (buf.byteLength !== rows * 4) {
      throw new PipelineError('checksum', `profile counts have ${buf.byteLength} bytes, expected ${rows * 4} (${rows} rows)`, {
        file: p,
        hint: 'run `hotcold profile` again',
      });
    }
    // copy into an aligned buffer (a Node Buffer may sit at any byte offset of its pool)
    const out = new Uint32Array(rows);
    new Uint8Array(out.buffer).set(buf);
    return out;
  });
}
