/**
 * One stripe of the parity store: k data members and r parity members of n bytes each (a row,
 * or a whole block of rows), laid out in one buffer at given offsets. `solve` fills in the
 * members that are not known — lost data from the known parity (and the other data), then lost
 * parity from the data — exactly, over GF(2^8) (gf.ts).
 */
import { coefficients, invert, mulAdd, mulInto } from './gf.js';

export class StripeCode {
  /** r × k coefficients; row 0 all ones (parity 0 = XOR of the data) */
  readonly c: Uint8Array[];
  private readonly inverses = new Map<string, Uint8Array[]>();
  private rhs = new Uint8Array(0);

  constructor(readonly k: number, readonly r: number) {
    this.c = coefficients(k, r);
  }

  /** Inverse of the m × m system of lost data `lost` from parity rows `par`. */
  private inverse(lost: number[], par: number[]): Uint8Array[] {
    const key = `${lost.join(',')}|${par.join(',')}`;
    let m = this.inverses.get(key);
    if (!m) {
      m = invert(par.map((j) => Uint8Array.from(lost, (i) => this.c[j]![i]!)));
      this.inverses.set(key, m);
    }
    return m;
  }

  /**
   * Fill the unknown members of a stripe in place.
   * @param off byte offset of member m (data 0…k−1, then parity 0…r−1) in buf
   * @param known which members hold their current bytes (a data member past the table's end is
   *              known: zeros)
   * @returns false when more data members are lost than parity members are known (nothing written)
   */
  solve(buf: Uint8Array, off: ArrayLike<number>, known: ArrayLike<boolean>, n: number): boolean {
    const { k, r, c } = this;
    const lost: number[] = [];
    const par: number[] = [];
    for (let i = 0; i < k; i++) if (!known[i]) lost.push(i);
    for (let j = 0; j < r; j++) if (known[k + j]) par.push(j);
    if (lost.length > par.length) return false;
    const m = lost.length;
    if (m > 0) {
      const use = par.slice(0, m);
      if (this.rhs.length < m * n) this.rhs = new Uint8Array(m * n);
      const rhs = this.rhs;
      for (let a = 0; a < m; a++) {
        const j = use[a]!;
        rhs.set(buf.subarray(off[k + j]!, off[k + j]! + n), a * n);
        for (let i = 0; i < k; i++) if (known[i]) mulAdd(rhs, a * n, buf, off[i]!, n, c[j]![i]!);
      }
      const inv = this.inverse(lost, use);
      for (let b = 0; b < m; b++) {
        const d = off[lost[b]!]!;
        mulInto(buf, d, rhs, 0, n, inv[b]![0]!);
        for (let a = 1; a < m; a++) mulAdd(buf, d, rhs, a * n, n, inv[b]![a]!);
      }
    }
    for (let j = 0; j < r; j++) {
      if (known[k + j]) continue;
      this.encodeInto(buf, off, j, n);
    }
    return true;
  }

  /** Parity member j from the k data members (all present). */
  encodeInto(buf: Uint8Array, off: ArrayLike<number>, j: number, n: number): void {
    const d = off[this.k + j]!;
    buf.fill(0, d, d + n);
    for (let i = 0; i < this.k; i++) mulAdd(buf, d, buf, off[i]!, n, this.c[j]![i]!);
  }
}
