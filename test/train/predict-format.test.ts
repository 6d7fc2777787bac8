import { describe, expect, it } from 'vitest';
import { csvLines, precision9 } from '../../stages/train/predict/format.js';
import { Rng } from '../../pipeline/rng.js';

describe('precision9 = toPrecision(9)', () => {
  it('on special values, decade edges and their float32 neighbours', () => {
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    const xs: number[] = [0, -0, 1, -1, 0.5, 1e-6, 1e-7, 0.1, 0.01, 1e-5, 0.999999999, 0.9999999, NaN, Infinity, -Infinity, 1.5, 123.456, 5e-324, -0.25];
    for (let e = -12; e <= 1; e++) {
      f32[0] = 10 ** e;
      for (let d = -300; d <= 300; d++) {
        const v = new Uint32Array([u32[0]! + d]);
        xs.push(new Float32Array(v.buffer)[0]!);
      }
    }
    for (const x of xs) expect(precision9(x), String(x)).toBe(x.toPrecision(9));
  });

  it('on 1.5 million random float32 values in (0, 1) (uniform bits and uniform values) and near rounding ties', () => {
    const rng = new Rng(7);
    const f32 = new Float32Array(1);
    const u32 = new Uint32Array(f32.buffer);
    let bad = 0;
    for (let i = 0; i < 500_000; i++) {
      u32[0] = Math.floor(rng.float() * 0x3f800000); // every positive float below 1, by bit pattern
      const a = f32[0]!;
      f32[0] = rng.float();
      const b = f32[0]!;
      // a value whose 10th significant digit is 5: the rounding tie region
      f32[0] = (Math.floor(rng.float() * 9e8 + 1e8) + 0.5) / 1e9;
      const c = f32[0]!;
      for (const x of [a, b, c]) if (precision9(x) !== x.toPrecision(9)) bad++;
    }
    expect(bad).toBe(0);
  });

  it('csvLines writes the bytes the template strings wrote (labelled and not, any row offset)', () => {
    const rng = new Rng(3);
    const n = 5000;
    const probs = new Float32Array(n).map(() => (rng.float() < 0.01 ? [0, 1, 1e-9, 0.5][Math.floor(rng.float() * 4)]! : rng.float() ** 3));
    const labels = new Float32Array(n).map(() => (rng.float() < 0.3 ? 1 : 0));
    for (const first of [0, 7, 999_999_999_999]) {
      let a = '';
      let b = '';
      for (let r = 0; r < n; r++) {
        a += `${first + r},${labels[r]!},${probs[r]!.toPrecision(9)}\n`;
        b += `${first + r},${probs[r]!.toPrecision(9)}\n`;
      }
      expect(csvLines(first, labels, probs, n).toString('latin1')).toBe(a);
      expect(csvLines(first, null, probs, n).toString('latin1')).toBe(b);
    }
  });
});
