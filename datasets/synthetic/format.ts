/**
 * Criteo TSV text of a {@link RowBlock}: `label \t I1..I13 \t C1..C26 \n`, empty =
 * missing, categoricals as 8 lowercase hex digits. Hand-written formatting with
 * 32-bit stores through a DataView: each integer feature's table entries are
 * pre-rendered as "\t" + digits (≤ 8 bytes, written as two words, then the write
 * position moves by the true length), hex ids go out as two words of ASCII pairs.
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../criteo/constants.js';
import { PipelineError } from '../../pipeline/errors.js';
import type { PlantedModel } from './planted.js';
import type { RowBlock } from './stats.js';

const NC = CAT_FEATURE_COUNT;
const NI = INT_FEATURE_COUNT;
const TAB = 9;
const NL = 10;

/** Longest row: label, 13 × (tab + 7 chars), 26 × (tab + 8 hex), newline. */
export const MAX_ROW_BYTES = 1 + NI * 8 + NC * 9 + 1;
/** Slack past the last row: a pre-rendered integer is stored as 8 bytes whatever its length. */
export const FORMAT_SLACK = 8;

/** PAIR[b] = two ASCII hex digits of byte b, little-endian (first digit in the low byte). */
const PAIR = new Uint16Array(256);
{
  const hex = '0123456789abcdef';
  for (let b = 0; b < 256; b++) PAIR[b] = hex.charCodeAt(b >>> 4) | (hex.charCodeAt(b & 15) << 8);
}

export class TsvFormatter {
  private readonly intWords: Uint32Array[]; // [13][table × 2] "\t" + digits, zero padded to 8 bytes
  private readonly intLen: Uint8Array[]; // [13][table] bytes of the rendering, tab included

  constructor(private readonly model: PlantedModel) {
    this.intWords = [];
    this.intLen = [];
    for (let j = 0; j < NI; j++) {
      const values = model.dense[j]!.values;
      const words = new Uint32Array(values.length * 2);
      const lens = new Uint8Array(values.length);
      for (let k = 0; k < values.length; k++) {
        const s = `\t${values[k]}`;
        if (s.length > 8) throw new PipelineError('internal', `I${j + 1} value ${values[k]} has more than 7 characters`);
        const bytes = new Uint8Array(8);
        for (let c = 0; c < s.length; c++) bytes[c] = s.charCodeAt(c);
        words[2 * k] = bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24);
        words[2 * k + 1] = bytes[4]! | (bytes[5]! << 8) | (bytes[6]! << 16) | (bytes[7]! << 24);
        lens[k] = s.length;
      }
      this.intWords.push(words);
      this.intLen.push(lens);
    }
  }

  /**
   * Write the block's rows at the start of `out`.
   * @param out at least b.n × MAX_ROW_BYTES + FORMAT_SLACK bytes
   * @returns bytes written
   */
  format(b: RowBlock, out: Uint8Array): number {
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    const m = this.model;
    let p = 0;
    for (let i = 0; i < b.n; i++) {
      out[p++] = 48 + b.label[i]!;
      const io = i * NI;
      for (let j = 0; j < NI; j++) {
        const k = b.ints[io + j]!;
        if (k < 0) {
          out[p++] = TAB;
          continue;
        }
        const w = this.intWords[j]!;
        view.setUint32(p, w[2 * k]!, true);
        view.setUint32(p + 4, w[2 * k + 1]!, true);
        p += this.intLen[j]![k]!;
      }
      const co = i * NC;
      for (let f = 0; f < NC; f++) {
        out[p++] = TAB;
        const r = b.cats[co + f]!;
        if (r < 0) continue;
        const h = m.hexId(f, r);
        view.setUint32(p, PAIR[h >>> 24]! | (PAIR[(h >>> 16) & 255]! << 16), true);
        view.setUint32(p + 4, PAIR[(h >>> 8) & 255]! | (PAIR[h & 255]! << 16), true);
        p += 8;
      }
      out[p++] = NL;
    }
    return p;
  }
}
