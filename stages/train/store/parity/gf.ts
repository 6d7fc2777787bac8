/**
 * GF(2^8) arithmetic (polynomial 0x11d) and the systematic MDS code of the parity store:
 *
 *     parity j = Σ_i c[j][i] · data_i      (bytewise over GF(2^8); + is XOR)
 *
 * c is a Cauchy matrix c[j][i] = 1 / (x_j + y_i) (x_j = j, y_i = r + i) with every column scaled
 * so that row 0 is all ones: parity 0 is the plain XOR of the data (r = 1 is RAID-5's XOR code),
 * and every square submatrix of [I; c] stays invertible (column scaling multiplies each by a
 * nonzero determinant), so any r lost members of a stripe are recoverable. The code works on the
 * rows' bytes, not their floats: reconstruction is exact, bit for bit.
 */

/** exp and log tables of the generator 2. */
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}

/** MUL[a·256 + b] = a·b. */
const MUL = new Uint8Array(65536);
for (let a = 1; a < 256; a++) for (let b = 1; b < 256; b++) MUL[a * 256 + b] = EXP[LOG[a]! + LOG[b]!]!;

export function gfMul(a: number, b: number): number {
  return MUL[a * 256 + b]!;
}

export function gfInv(a: number): number {
  if (a === 0) throw new Error('GF(2^8): 0 has no inverse');
  return EXP[255 - LOG[a]!]!;
}

/** dst[d0 ..] ^= c · src[s0 ..], n bytes. */
export function mulAdd(dst: Uint8Array, d0: number, src: Uint8Array, s0: number, n: number, c: number): void {
  if (c === 0) return;
  if (c === 1) {
    let i = 0;
    if (((dst.byteOffset + d0) & 3) === 0 && ((src.byteOffset + s0) & 3) === 0 && n >= 16) {
      // four bytes at a time (the rebuild's whole blocks are aligned)
      const w = n >>> 2;
      const d32 = new Int32Array(dst.buffer, dst.byteOffset + d0, w);
      const s32 = new Int32Array(src.buffer, src.byteOffset + s0, w);
      for (let j = 0; j < w; j++) d32[j] = d32[j]! ^ s32[j]!;
      i = w << 2;
    }
    for (; i < n; i++) dst[d0 + i] = dst[d0 + i]! ^ src[s0 + i]!;
    return;
  }
  const base = c * 256;
  for (let i = 0; i < n; i++) dst[d0 + i] = dst[d0 + i]! ^ MUL[base + src[s0 + i]!]!;
}

/** dst[d0 ..] = c · src[s0 ..], n bytes. */
export function mulInto(dst: Uint8Array, d0: number, src: Uint8Array, s0: number, n: number, c: number): void {
  if (c === 1) {
    dst.set(src.subarray(s0, s0 + n), d0);
    return;
  }
  const base = c * 256;
  for (let i = 0; i < n; i++) dst[d0 + i] = MUL[base + src[s0 + i]!]!;
}

/** The r × k coefficient matrix (row 0 all ones). */
export function coefficients(k: number, r: number): Uint8Array[] {
  if (k < 1 || r < 1 || k + r > 255) throw new Error(`parity code: need 1 ≤ k, 1 ≤ r, k + r ≤ 255 (k = ${k}, r = ${r})`);
  const c = Array.from({ length: r }, (_, j) => Uint8Array.from({ length: k }, (_, i) => gfInv(j ^ (r + i))));
  for (let i = 0; i < k; i++) {
    const s = gfInv(c[0]![i]!);
    for (let j = 0; j < r; j++) c[j]![i] = gfMul(c[j]![i]!, s);
  }
  return c;
}

/** Inverse of a square matrix over GF(2^8) (Gauss–Jordan). @throws when singular */
export function invert(m: Uint8Array[]): Uint8Array[] {
  const n = m.length;
  const a = m.map((row, i) => {
    const x = new Uint8Array(2 * n);
    x.set(row);
    x[n + i] = 1;
    return x;
  });
  for (let col = 0; col < n; col++) {
    let p = col;
    while (p < n && a[p]![col] === 0) p++;
    if (p === n) throw new Error('GF(2^8): singular matrix');
    [a[col], a[p]] = [a[p]!, a[col]!];
    const inv = gfInv(a[col]![col]!);
    const rowc = a[col]!;
    for (let j = 0; j < 2 * n; j++) rowc[j] = gfMul(rowc[j]!, inv);
    for (let i = 0; i < n; i++) {
      if (i === col || a[i]![col] === 0) continue;
      const f = a[i]![col]!;
      const ri = a[i]!;
      for (let j = 0; j < 2 * n; j++) ri[j] = ri[j]! ^ gfMul(f, rowc[j]!);
    }
  }
  return a.map((x) => x.slice(n));
}
