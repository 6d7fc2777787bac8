/**
 * The vocabulary map of a preprocessed dataset: raw categorical value → row id, per table.
 *
 * `hotcold preprocess` writes `vocab/values-C{k}.bin` (Uint32 little endian): the raw value
 * (after `--max-ind-range` hashing, `value % R`) of every id ≥ 2, at index `id − 2`. Id 0 is
 * a missing field, id 1 is out-of-vocabulary (values under `--freq-threshold`, and at predict
 * time values never seen in preprocessing).
 *
 *     values-C1.bin:  [05db9164, 68fd1e64, …]   →   05db9164 ↦ 2, 68fd1e64 ↦ 3, unseen ↦ 1
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineError } from '../pipeline/errors.js';
import { FIRST_VALUE_ID, OOV_ID, type PreprocessManifest } from './preprocessed.js';

/**
 * Read every table's value list.
 * @returns per table, `values[id - 2]` = raw (hashed) value of that id
 * @throws bad_manifest when the dataset predates value files, or a file's length disagrees with `vocab.sizes`
 */
export function readVocabValues(dir: string, m: PreprocessManifest): Uint32Array[] {
  const files = m.vocab.valueFiles;
  if (!files || files.length !== m.vocab.sizes.length) {
    throw new PipelineError('bad_manifest', 'preprocessed dataset has no vocabulary value files (written by an older hotcold)', {
      file: dir,
      hint: `run \`hotcold preprocess\` again to write vocab/values-C*.bin`,
    });
  }
  return files.map((rel, t) => {
    const path = join(dir, rel);
    const buf = readFileSync(path);
    const n = m.vocab.sizes[t]! - FIRST_VALUE_ID;
    if (buf.byteLength !== 4 * n) {
      throw new PipelineError('bad_manifest', `vocabulary file has ${buf.byteLength} bytes, expected ${4 * n} (${n} values)`, { file: path });
    }
    const out = new Uint32Array(n);
    new Uint8Array(out.buffer).set(buf);
    return out;
  });
}

/**
 * Raw value → id for one table: open addressing over the keys' 32-bit patterns (kept in an
 * Int32Array, so every key and probe stays a small integer in V8: uint32 values ≥ 2^31 would be
 * heap doubles), Fibonacci hashing.
 */
export class VocabLookup {
  private readonly keys: Int32Array;
  /** id + 1 per slot; 0 = empty */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly shift: number;

  /** @param values `values[id - 2]` as {@link readVocabValues} returns them */
  constructor(values: Uint32Array) {
    let cap = 16;
    while (cap < values.length * 2) cap *= 2;
    this.keys = new Int32Array(cap);
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    for (let k = 0; k < values.length; k++) {
      const v = values[k]! | 0;
      let i = Math.imul(v, 0x9e3779b1) >>> this.shift;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.keys[i] = v;
      this.slots[i] = FIRST_VALUE_ID + k + 1;
    }
  }

  /** The id of raw value `v` (uint32, or its int32 bit pattern), or {@link OOV_ID} when it was not in the vocabulary. */
  id(v: number): number {
    const k = v | 0;
    let i = Math.imul(k, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const s = this.slots[i]!;
      if (s === 0) return OOV_ID;
      if (this.keys[i] === k) return s - 1;
      i = (i + 1) & this.mask;
    }
  }

  /**
   * Ids of one column: `out[outOff + r·stride] = present[base + r] ? id(bits[base + r]) : missing`
   * for r < n (`bits`: the raw values' 32-bit patterns).
   */
  mapColumn(bits: Int32Array, present: Uint8Array, base: number, n: number, out: Int32Array, outOff: number, stride: number, missing: number): void {
    const keys = this.keys;
    const slots = this.slots;
    const mask = this.mask;
    const shift = this.shift;
    for (let r = 0; r < n; r++) {
      let id = missing;
      if (present[base + r] !== 0) {
        const k = bits[base + r]!;
        let i = Math.imul(k, 0x9e3779b1) >>> shift;
        for (;;) {
          const s = slots[i]!;
          if (s === 0) {
            id = OOV_ID;
            break;
          }
          if (keys[i] === k) {
            id = s - 1;
            break;
          }
          i = (i + 1) & mask;
        }
      }
      out[outOff + r * stride] = id;
    }
  }
}
