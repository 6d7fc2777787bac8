/**
 * Initial values of any embedding row from its id, without generating the rows before it: the
 * memory backend's seeded init (EmbeddingTable.initUniform: per table, four uint32 of the run's
 * table rng seed a xoshiro128** stream, and row r of a dim-d table takes draws [r·d, r·d + d))
 * reproduced at an arbitrary row by jumping the stream ahead.
 *
 * xoshiro128**'s state transition T is linear over GF(2)^128 with a primitive characteristic
 * polynomial P of degree 128 (found here by Berlekamp–Massey from one state bit's sequence), so
 * T^k = (x^k mod P)(T): a jump of k draws is 128 steps of the generator, XOR-ing the states where
 * the jump polynomial has a 1. Per table the state at every block of 32 rows is computed on first
 * use (at most ⌈log16 blocks⌉ jumps, cached: 16 bytes per 32 rows) and a row is one more jump
 * from its block's state, then d draws: ≈ 2 µs per row, bit-identical to the memory backend's
 * values (the same draws through the same fillUniform).
 *
 * This is what lets the redis backend store only the rows training has touched: a row never
 * written is all-zero bytes in the store (a missing key, or SETRANGE's zero padding) and every
 * reader substitutes its initial value from here (see functions.ts for why all-zero is safe).
 */
import type { Rng } from '../../../pipeline/rng.js';
import { fillUniform } from '../model/embedding.js';

/** One xoshiro128** step on s (4 int32, in place); the same transition as fillUniform. */
function step(s: Int32Array): void {
  const t = s[1]! << 9;
  s[2] = s[2]! ^ s[0]!;
  s[3] = s[3]! ^ s[1]!;
  s[1] = s[1]! ^ s[2]!;
  s[0] = s[0]! ^ s[3]!;
  s[2] = s[2]! ^ t;
  s[3] = (s[3]! << 11) | (s[3]! >>> 21);
}

/** Berlekamp–Massey over GF(2): the characteristic polynomial of T (bit i = coefficient of x^i). */
function charPoly(): bigint {
  const s = new Int32Array([0x12345678, 0x9abcdef, 0x7f4a7c15, 0x2545f491]);
  const N = 512;
  const seq: number[] = [];
  for (let i = 0; i < N; i++) {
    seq.push(s[0]! & 1);
    step(s);
  }
  let C = 1n;
  let Bp = 1n;
  let L = 0;
  let m = 1;
  for (let n = 0; n < N; n++) {
    let d = seq[n]!;
    for (let i = 1; i <= L; i++) if ((C >> BigInt(i)) & 1n) d ^= seq[n - i]!;
    if (d === 0) m++;
    else if (2 * L <= n) {
      const T = C;
      C ^= Bp << BigInt(m);
      L = n + 1 - L;
      Bp = T;
      m = 1;
    } else {
      C ^= Bp << BigInt(m);
      m++;
    }
  }
  if (L !== 128) throw new Error(`xoshiro128** linear complexity ${L}, expected 128`);
  // connection polynomial C(x) = 1 + c1 x + … + cL x^L → characteristic polynomial x^L C(1/x)
  let P = 0n;
  for (let i = 0; i <= L; i++) if ((C >> BigInt(i)) & 1n) P |= 1n << BigInt(L - i);
  return P;
}

let P: bigint | null = null;
const TOP = 1n << 128n;

/** a·b mod P, polynomials of degree < 128. */
function mulmod(a: bigint, b: bigint): bigint {
  const p = (P ??= charPoly());
  let r = 0n;
  for (let i = 127; i >= 0; i--) {
    r <<= 1n;
    if (r & TOP) r ^= p;
    if ((b >> BigInt(i)) & 1n) r ^= a;
  }
  return r;
}

/** x^k mod P. */
function xpow(k: number): bigint {
  let result = 1n;
  let base = 2n;
  let e = BigInt(k);
  while (e > 0n) {
    if (e & 1n) result = mulmod(result, base);
    base = mulmod(base, base);
    e >>= 1n;
  }
  return result;
}

/** A jump polynomial as four 32-bit words (bit i of word w = coefficient of x^(32w + i)). */
function words(p: bigint): Int32Array {
  const w = new Int32Array(4);
  for (let i = 0; i < 4; i++) w[i] = Number((p >> BigInt(32 * i)) & 0xffffffffn) | 0;
  return w;
}

/** s ← poly(T)·s: 128 steps, XOR of the states at the polynomial's 1 coefficients. */
export function applyJump(s: Int32Array, poly: Int32Array): void {
  let ra = 0, rb = 0, rc = 0, rd = 0;
  let a = s[0]!, b = s[1]!, c = s[2]!, d = s[3]!;
  for (let w = 0; w < 4; w++) {
    const bits = poly[w]!;
    for (let k = 0; k < 32; k++) {
      if ((bits >>> k) & 1) {
        ra ^= a; rb ^= b; rc ^= c; rd ^= d;
      }
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
    }
  }
  s[0] = ra; s[1] = rb; s[2] = rc; s[3] = rd;
}

/** The jump polynomial of k draws (for tests and tools). */
export function jumpPoly(k: number): Int32Array {
  return words(xpow(k));
}

/** Rows per cached block state (the store's block size; any power of two works). */
const BLOCK = 32;
const DIGITS = 8; // base-16 digits of a block index: 16^8 blocks of 32 rows ≫ any table

interface Jumps {
  /** row[j] = x^(j·d), j < BLOCK */
  row: Int32Array[];
  /** block[i][k] = x^(k·16^i·BLOCK·d) */
  block: Int32Array[][];
}
const jumpCache = new Map<number, Jumps>();

function jumpsFor(d: number): Jumps {
  let j = jumpCache.get(d);
  if (j) return j;
  const row = Array.from({ length: BLOCK }, (_, i) => words(xpow(i * d)));
  const block: Int32Array[][] = [];
  let unit = xpow(BLOCK * d);
  for (let i = 0; i < DIGITS; i++) {
    const ks: Int32Array[] = [words(1n)];
    let acc = 1n;
    for (let k = 1; k < 16; k++) {
      acc = mulmod(acc, unit);
      ks.push(words(acc));
    }
    block.push(ks);
    unit = mulmod(acc, unit); // x^(16^(i+1)·BLOCK·d)
  }
  j = { row, block };
  jumpCache.set(d, j);
  return j;
}

/** The per-table seed states as EmbeddingTable.initUniform draws them: four uint32 of `rng` per table, in table order. */
export function tableSeeds(rng: Rng, tables: number): number[][] {
  const out: number[][] = [];
  for (let t = 0; t < tables; t++) {
    const s = [rng.nextU32() | 0, rng.nextU32() | 0, rng.nextU32() | 0, rng.nextU32() | 0];
    if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1;
    out.push(s);
  }
  return out;
}

/** Initial rows of a run's tables by id: the memory backend's values, computed on demand. */
export class RowInit {
  private readonly jumps: Jumps;
  /** per table: state at each block start (4 int32), computed on first use */
  private readonly states: (Int32Array | null)[];
  private readonly have: (Uint8Array | null)[];
  private readonly bounds: number[];
  private readonly tmp = new Int32Array(4);

  /**
   * @param seeds per table the four int32 of its stream (tableSeeds)
   * @param sizes rows per table
   */
  constructor(readonly seeds: number[][], readonly sizes: number[], readonly dim: number, readonly initAccum = 0) {
    this.jumps = jumpsFor(dim);
    this.states = sizes.map(() => null);
    this.have = sizes.map(() => null);
    this.bounds = sizes.map((n) => Math.sqrt(1 / n));
  }

  private blockState(t: number, blk: number, out: Int32Array): void {
    let st = this.states[t];
    let hv = this.have[t]!;
    if (!st) {
      const nb = Math.ceil(this.sizes[t]! / BLOCK);
      st = this.states[t] = new Int32Array(nb * 4);
      hv = this.have[t] = new Uint8Array(nb);
    }
    if (!hv[blk]) {
      const s = this.tmp;
      const seed = this.seeds[t]!;
      s[0] = seed[0]!; s[1] = seed[1]!; s[2] = seed[2]!; s[3] = seed[3]!;
      let b = blk;
      for (let i = 0; b > 0; i++, b >>>= 4) if (b & 15) applyJump(s, this.jumps.block[i]![b & 15]!);
      st.set(s, blk * 4);
      hv[blk] = 1;
    }
    out[0] = st[blk * 4]!; out[1] = st[blk * 4 + 1]!; out[2] = st[blk * 4 + 2]!; out[3] = st[blk * 4 + 3]!;
  }

  /**
   * out[o .. o+dim) = the initial weights of row r of table t; out[o+dim] = the initial
   * accumulator when `withAccum`.
   */
  row(t: number, r: number, out: Float32Array, o: number, withAccum: boolean): void {
    const s = new Int32Array(4);
    this.blockState(t, Math.floor(r / BLOCK), s);
    const j = r % BLOCK;
    if (j > 0) applyJump(s, this.jumps.row[j]!);
    fillUniform(out, o, o + this.dim, s, this.bounds[t]!);
    if (withAccum) out[o + this.dim] = this.initAccum;
  }

  /** Rows [r0, r0+n) of table t, nf floats each (dim weights, then the accumulator when nf > dim). */
  rows(t: number, r0: number, n: number, out: Float32Array, nf: number): void {
    const d = this.dim;
    const s = new Int32Array(4);
    this.blockState(t, Math.floor(r0 / BLOCK), s);
    const j = r0 % BLOCK;
    if (j > 0) applyJump(s, this.jumps.row[j]!);
    for (let i = 0; i < n; i++) {
      fillUniform(out, i * nf, i * nf + d, s, this.bounds[t]!);
      if (nf > d) out[i * nf + d] = this.initAccum;
    }
  }
}
