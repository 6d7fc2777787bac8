/**
 * Categorify (DLRM / NVTabular style): raw uint32 values → contiguous ids per
 * feature, built over all rows of all splits. A stateful op in three steps:
 *
 * 1. {@link Categorify.fit} — one pass over the data; counts every value and
 *    returns *provisional* ids (2 + first-appearance index, 0 = missing).
 * 2. {@link Categorify.finalize} — applies the frequency threshold: values seen
 *    fewer than `freqThreshold` times become OOV (id 1); survivors are renumbered
 *    2.. in first-appearance order.
 * 3. {@link Categorify.transform} — provisional ids → final ids (identity when
 *    nothing falls under the threshold). Calling it before `finalize` throws.
 *
 *     raw C1 :  05db9164  (empty)  68fd1e64  05db9164  0a519c5c
 *     fit    :  2         0        3         2         4
 *     final (threshold 2): 2  0  1  2  1      (68fd1e64, 0a519c5c seen once → OOV)
 *
 * With `maxIndRange` R > 0 the value is first reduced to `value % R` (DLRM's
 * `--max-ind-range` hashing), so each table has at most R + 2 rows.
 */
import type { RowBatch } from '../../../datasets/criteo/batch.js';
import type { WorkerVocab } from '../../../datasets/criteo/parallel.js';
import { CAT_FEATURE_COUNT } from '../../../datasets/criteo/constants.js';
import { FIRST_VALUE_ID, MISSING_ID, OOV_ID } from '../../../datasets/ids.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { modulo } from '../../../datasets/criteo/modulo-hash.js';
import { U32IndexTable } from '../../../datasets/criteo/id-table.js';
import type { ParseAddon } from '../../../datasets/criteo/native.js';

export interface CategorifyOptions {
  /** hash values to `value % maxIndRange` first; 0 = off @default 0 */
  maxIndRange: number;
  /**
   * Features categorified elsewhere (the parse worker): their batch columns
   * already hold ids, which {@link Categorify.fit} copies; their vocabularies
   * come in through {@link Categorify.adopt} before `finalize`.
   */
  external?: readonly number[];
  /** the parse addon: hash-table loops in C++ (same ids and counts); null/absent = TypeScript */
  native?: ParseAddon | null;
}

/** What finalize needs of a feature's table. */
interface TableCounts {
  size: number;
  missing: number;
  counts: Uint32Array;
  /** (hashed) value per first-appearance index */
  keysByIndex(): Uint32Array;
}

/** The vocabulary of one feature after {@link Categorify.finalize}. */
export interface FeatureVocab {
  /** table rows: 2 reserved ids + surviving values */
  size: number;
  /** distinct (hashed) values seen */
  distinct: number;
  /** count per final id: [missing, oov total, value 2, value 3, …] */
  counts: Uint32Array;
  /** provisional id → final id, or null when the map is the identity */
  remap: Int32Array | null;
  /** (hashed) raw value of every final id ≥ 2: `values[id - 2]` (the vocabulary map) */
  values: Uint32Array;
}

export class Categorify {
  private readonly tables: U32IndexTable[];
  /** per feature: true when its ids come from elsewhere (options.external) */
  private readonly external: boolean[];
  private readonly adopted: (TableCounts | null)[];
  private vocab: FeatureVocab[] | null = null;

  constructor(readonly options: CategorifyOptions) {
    if (!Number.isInteger(options.maxIndRange) || options.maxIndRange < 0 || options.maxIndRange > 0xffffffff) {
      throw new PipelineError('bad_config', `maxIndRange must be an integer in [0, 2^32-1], got ${options.maxIndRange}`, { field: 'maxIndRange' });
    }
    this.external = Array.from({ length: CAT_FEATURE_COUNT }, (_, f) => options.external?.includes(f) ?? false);
    this.adopted = this.external.map(() => null);
    this.tables = this.external.map((ext) => new U32IndexTable(ext ? 16 : 1 << 12, options.native ?? null));
  }

  /** Install the vocabularies of the external features (built on the worker). */
  adopt(vocab: readonly WorkerVocab[]): void {
    for (const v of vocab) {
      if (!this.external[v.feature]) throw new PipelineError('internal', `Categorify.adopt: feature ${v.feature} is not external`);
      this.adopted[v.feature] = { size: v.size, missing: v.missing, counts: v.counts, keysByIndex: () => v.keys };
    }
  }

  private table(f: number): TableCounts {
    if (!this.external[f]) return this.tables[f]!;
    const t = this.adopted[f];
    if (!t) throw new PipelineError('internal', `Categorify: no vocabulary adopted for external feature ${f}`);
    return t;
  }

  /**
   * Count the batch's values and write provisional ids.
   * @param out 26 columns; row r of feature f goes to `out[f][outOff + r]`
   */
  fit(out: Int32Array[], outOff: number, batch: RowBatch): void {
    if (this.vocab) throw new PipelineError('internal', 'Categorify.fit after finalize');
    const n = batch.rows;
    const cap = batch.capacity;
    const range = this.options.maxIndRange;
    for (let f = 0; f < CAT_FEATURE_COUNT; f++) {
      const base = f * cap;
      if (this.external[f]) {
        out[f]!.set(new Int32Array(batch.cats.buffer, batch.cats.byteOffset + 4 * base, n), outOff);
        continue;
      }
      if (range > 0) modulo(batch.cats, base, n, range);
      this.tables[f]!.mapAndCount(batch.cats, batch.catPresent, base, n, out[f]!, outOff, FIRST_VALUE_ID);
    }
  }

  /** Distinct values seen so far per feature. */
  distinct(): number[] {
    return this.tables.map((_, f) => this.table(f).size);
  }

  /**
   * Fix the vocabularies: values seen fewer than `freqThreshold` times → OOV.
   * Frees the hash tables.
   * @param freqThreshold 0 or 1 = keep every value
   */
  finalize(freqThreshold: number): FeatureVocab[] {
    if (this.vocab) return this.vocab;
    this.vocab = this.tables.map((_, f) => {
      const t = this.table(f);
      const n = t.size;
      const raw = t.counts;
      const keys = t.keysByIndex();
      if (freqThreshold <= 1) {
        const counts = new Uint32Array(FIRST_VALUE_ID + n);
        counts[MISSING_ID] = t.missing;
        counts.set(raw.subarray(0, n), FIRST_VALUE_ID);
        return { size: FIRST_VALUE_ID + n, distinct: n, counts, remap: null, values: keys };
      }
      const remap = new Int32Array(FIRST_VALUE_ID + n);
      remap[MISSING_ID] = MISSING_ID;
      remap[OOV_ID] = OOV_ID;
      let next = FIRST_VALUE_ID;
      let oov = 0;
      for (let i = 0; i < n; i++) {
        if (raw[i]! >= freqThreshold) remap[FIRST_VALUE_ID + i] = next++;
        else {
          remap[FIRST_VALUE_ID + i] = OOV_ID;
          oov += raw[i]!;
        }
      }
      const counts = new Uint32Array(next);
      const values = new Uint32Array(next - FIRST_VALUE_ID);
      counts[MISSING_ID] = t.missing;
      counts[OOV_ID] = oov;
      for (let i = 0; i < n; i++) {
        const id = remap[FIRST_VALUE_ID + i]!;
        if (id !== OOV_ID) {
          counts[id] = raw[i]!;
          values[id - FIRST_VALUE_ID] = keys[i]!;
        }
      }
      return { size: next, distinct: n, counts, remap, values };
    });
    // release the big tables
    this.tables.length = 0;
    this.adopted.fill(null);
    return this.vocab;
  }

  /** True when {@link Categorify.transform} changes any id. */
  needsRemap(): boolean {
    if (!this.vocab) throw new PipelineError('internal', 'Categorify.needsRemap before finalize');
    return this.vocab.some((v) => v.remap !== null);
  }

  /** Provisional ids → final ids, in place. @param cats 26 id columns */
  transform(cats: Int32Array[]): void {
    if (!this.vocab) throw new PipelineError('internal', 'Categorify.transform before finalize');
    for (let f = 0; f < CAT_FEATURE_COUNT; f++) {
      const remap = this.vocab[f]!.remap;
      if (!remap) continue;
      const col = cats[f]!;
      for (let r = 0; r < col.length; r++) col[r] = remap[col[r]!]!;
    }
  }
}
