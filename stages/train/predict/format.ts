/**
 * Fast `x.toPrecision(9)` for the probabilities `predict` writes (9 significant digits: a float32
 * round-trips). Byte-identical to `Number.prototype.toPrecision(9)` for every input: the common
 * range 1e-6 ≤ x < 1 is formatted from one scaled multiply and an integer; anything else, and any
 * value whose scaled form lies too close to a rounding tie or a power of ten for one double
 * multiply to decide, goes to `toPrecision` itself. {@link csvLines} writes a batch's CSV lines
 * straight into bytes with it (no strings per row). test/train/predict-format.test.ts checks
 * equality with `toPrecision` on millions of float32 values and with the template-string lines.
 */

/** "0.", "0.0", … "0.00000": the prefix for exponents −1 … −6. */
const PREFIX = ['0.', '0.0', '0.00', '0.000', '0.0000', '0.00000'];
/** 10^k for k = 0 … 22, exact in double. */
const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);

/** The exponent e of the last nonzero {@link fastDigits} result. */
let lastExp = 0;
/**
 * The digits of `x.toPrecision(9)` as n · 10^(e − 8) (10^8 ≤ n < 10^9) when one scaled multiply
 * decides them, written as `0.` + (−e − 1) zeros + n; else 0 (then use `toPrecision`).
 * Returns n, with the exponent in {@link lastExp}.
 */
function fastDigits(x: number): number {
  if (!(x >= 1e-6 && x < 1)) return 0;
  // x = n · 10^(e − 8) with 10^8 ≤ n < 10^9 and e = ⌊log10 x⌋ ∈ [−6, −1]
  let e = Math.floor(Math.log10(x));
  if (e < -6) e = -6;
  else if (e > -1) e = -1;
  let y = x * POW10[8 - e]!; // one rounding: relative error ≤ 2^-53, absolute ≤ 1.2e-7 here
  if (y < 1e8) {
    if (e === -6) return 0;
    e--;
    y = x * POW10[8 - e]!;
  } else if (y >= 1e9) {
    if (e === -1) return 0;
    e++;
    y = x * POW10[8 - e]!;
  }
  // too close to a boundary (a decade or a rounding tie) for the one-rounding product to decide
  if (y < 1e8 + 1e-3 || y > 1e9 - 1) return 0;
  const fl = Math.floor(y);
  const frac = y - fl;
  if (frac > 0.5 - 1e-6 && frac < 0.5 + 1e-6) return 0;
  const n = frac > 0.5 ? fl + 1 : fl;
  if (n >= 1e9) return 0; // carried into the next decade
  lastExp = e;
  return n;
}

/**
 * `x.toPrecision(9)`, the same string.
 * @param x any number (float32 probabilities in practice)
 */
export function precision9(x: number): string {
  const n = fastDigits(x);
  return n === 0 ? x.toPrecision(9) : PREFIX[-lastExp - 1]! + String(n);
}

/** Write the decimal digits of a non-negative integer < 2^53 at `buf[pos]`; returns the end. */
function writeUint(buf: Buffer, pos: number, v: number): number {
  if (v < 10) {
    buf[pos] = 48 + v;
    return pos + 1;
  }
  let len = 1;
  if (v < 0x80000000) {
    // int32 arithmetic (every probability's digits, and row numbers below 2^31)
    for (let t = v; t >= 10; t = (t / 10) | 0) len++;
    for (let i = pos + len - 1; i >= pos; i--) {
      const q = (v / 10) | 0;
      buf[i] = 48 + (v - q * 10);
      v = q;
    }
    return pos + len;
  }
  for (let t = v; t >= 10; t = Math.floor(t / 10)) len++;
  for (let i = pos + len - 1; i >= pos; i--) {
    const q = Math.floor(v / 10);
    buf[i] = 48 + (v - q * 10);
    v = q;
  }
  return pos + len;
}

/** Longest line {@link csvLines} writes: a 16-digit row, a label, a 15-character toPrecision. */
const MAX_LINE = 64;

/**
 * The CSV lines of one scored batch, `row,label,probability\n` (or `row,probability\n` when
 * `labels` is null), in bytes, exactly as the template string with `toPrecision(9)` wrote them.
 * @param first the row number of the batch's first row
 */
export function csvLines(first: number, labels: ArrayLike<number> | null, probs: ArrayLike<number>, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n * MAX_LINE);
  let p = 0;
  for (let r = 0; r < n; r++) {
    p = writeUint(buf, p, first + r);
    buf[p++] = 44;
    if (labels) {
      const l = labels[r]!;
      if (l === 0 || l === 1) buf[p++] = 48 + l;
      else p += buf.write(String(l), p, 'latin1');
      buf[p++] = 44;
    }
    const x = probs[r]!;
    const d = fastDigits(x);
    if (d === 0) p += buf.write(x.toPrecision(9), p, 'latin1');
    else {
      const e = lastExp;
      buf[p++] = 48;
      buf[p++] = 46;
      for (let z = -e - 1; z > 0; z--) buf[p++] = 48;
      p = writeUint(buf, p, d);
    }
    buf[p++] = 10;
  }
  return buf.subarray(0, p);
}
