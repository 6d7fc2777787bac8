/**
 * DLRM dot interaction (design.md §3), forward/backward over flat arrays.
 *
 *     T[b]  = [bot[b], emb[b,0], …, emb[b,F−1]]          (V = F+1 vectors of width d)
 *     Z[b]  = strictly lower triangle of T·Tᵀ, row-major: (1,0), (2,0), (2,1), (3,0), …
 *     R[b]  = [bot[b], Z[b]]                               width d + V(V−1)/2  (367 for d=16, F=26)
 *
 * The forward copies T into a cache the backward reads, so the caller's embedding buffer
 * may be reused between the two calls.
 */

/** Number of interaction pairs for F tables: C(F+1, 2) (351 for F = 26). */
export function interactionPairs(numTables: number): number {
  const V = numTables + 1;
  return (V * (V - 1)) / 2;
}

/** Width of R = [bottom_out, Zflat]: d + C(F+1, 2). */
export function interactionWidth(dim: number, numTables: number): number {
  return dim + interactionPairs(numTables);
}

/**
 * out[B×(d+P)] = [bot, Zflat];  tcache[B×V×d] = T.
 * @param bot  B×d bottom-MLP output
 * @param emb  B×F×d gathered embedding rows
 */
export function interactionForward(
  out: Float32Array, tcache: Float32Array, bot: Float32Array, emb: Float32Array,
  B: number, F: number, d: number,
): void {
  if (d === 16) interactionForward16(out, tcache, bot, emb, B, F);
  else interactionForwardLoops(out, tcache, bot, emb, B, F, d);
}

/** Any-d loop version of {@link interactionForward} (the d = 16 kernel's test oracle). */
export function interactionForwardLoops(
  out: Float32Array, tcache: Float32Array, bot: Float32Array, emb: Float32Array,
  B: number, F: number, d: number,
): void {
  const V = F + 1;
  const P = (V * (V - 1)) / 2;
  const W = d + P;
  const Fd = F * d;
  const Vd = V * d;
  for (let b = 0; b < B; b++) {
    const t0 = b * Vd;
    const r0 = b * W;
    const bb = b * d;
    for (let k = 0; k < d; k++) {
      const v = bot[bb + k]!;
      tcache[t0 + k] = v;
      out[r0 + k] = v;
    }
    const e0 = b * Fd;
    for (let k = 0; k < Fd; k++) tcache[t0 + d + k] = emb[e0 + k]!;
    let p = r0 + d;
    for (let i = 1; i < V; i++) {
      const ti = t0 + i * d;
      for (let j = 0; j < i; j++) {
        const tj = t0 + j * d;
        let s = 0;
        for (let k = 0; k < d; k++) s += tcache[ti + k]! * tcache[tj + k]!;
        out[p++] = s;
      }
    }
  }
}

/**
 * Backward of {@link interactionForward}; overwrites dbot and demb.
 *   dT_i = Σ_{j<i} dZ_ij T_j + Σ_{j>i} dZ_ji T_j
 *   dbot[b]  = dR[b, 0:d] + dT_0         demb[b, f] = dT_{f+1}
 * @param scratch at least V×d floats (one sample's dT)
 */
export function interactionBackward(
  dbot: Float32Array, demb: Float32Array, dout: Float32Array, tcache: Float32Array, scratch: Float32Array,
  B: number, F: number, d: number,
): void {
  if (d === 16) interactionBackward16(dbot, demb, dout, tcache, B, F);
  else interactionBackwardLoops(dbot, demb, dout, tcache, scratch, B, F, d);
}

/** Any-d loop version of {@link interactionBackward} (pair form; the d = 16 kernel's test oracle). */
export function interactionBackwardLoops(
  dbot: Float32Array, demb: Float32Array, dout: Float32Array, tcache: Float32Array, scratch: Float32Array,
  B: number, F: number, d: number,
): void {
  const V = F + 1;
  const P = (V * (V - 1)) / 2;
  const W = d + P;
  const Fd = F * d;
  const Vd = V * d;
  for (let b = 0; b < B; b++) {
    const t0 = b * Vd;
    const r0 = b * W;
    scratch.fill(0, 0, Vd);
    let p = r0 + d;
    for (let i = 1; i < V; i++) {
      const ti = t0 + i * d;
      const si = i * d;
      for (let j = 0; j < i; j++) {
        const g = dout[p++]!;
        if (g === 0) continue;
        const tj = t0 + j * d;
        const sj = j * d;
        for (let k = 0; k < d; k++) {
          scratch[si + k] = scratch[si + k]! + g * tcache[tj + k]!;
          scratch[sj + k] = scratch[sj + k]! + g * tcache[ti + k]!;
        }
      }
    }
    const bb = b * d;
    for (let k = 0; k < d; k++) dbot[bb + k] = dout[r0 + k]! + scratch[k]!;
    const e0 = b * Fd;
    for (let k = 0; k < Fd; k++) demb[e0 + k] = scratch[d + k]!;
  }
}

// ---- d = 16 (the reference dim): generated unrolled kernels, same results as the loops above ----

/** {@link interactionForward} for d = 16: T_i held in locals, one pass over j. */
function interactionForward16(
  out: Float32Array, tc: Float32Array, bot: Float32Array, emb: Float32Array, B: number, F: number,
): void {
  const V = F + 1;
  const W = 16 + (V * (V - 1)) / 2;
  const Fd = F * 16;
  const Vd = V * 16;
  for (let b = 0; b < B; b++) {
    const t0 = b * Vd;
    const r0 = b * W;
    const bb = b * 16;
    for (let k = 0; k < 16; k++) {
      const v = bot[bb + k]!;
      tc[t0 + k] = v;
      out[r0 + k] = v;
    }
    const e0 = b * Fd;
    for (let k = 0; k < Fd; k++) tc[t0 + 16 + k] = emb[e0 + k]!;
    let p = r0 + 16;
    for (let i = 1; i < V; i++) {
      const ti = t0 + i * 16;
      const a0 = tc[ti + 0]!;
      const a1 = tc[ti + 1]!;
      const a2 = tc[ti + 2]!;
      const a3 = tc[ti + 3]!;
      const a4 = tc[ti + 4]!;
      const a5 = tc[ti + 5]!;
      const a6 = tc[ti + 6]!;
      const a7 = tc[ti + 7]!;
      const a8 = tc[ti + 8]!;
      const a9 = tc[ti + 9]!;
      const a10 = tc[ti + 10]!;
      const a11 = tc[ti + 11]!;
      const a12 = tc[ti + 12]!;
      const a13 = tc[ti + 13]!;
      const a14 = tc[ti + 14]!;
      const a15 = tc[ti + 15]!;
      for (let j = 0; j < i; j++) {
        const tj = t0 + j * 16;
        out[p++] = a0 * tc[tj + 0]! + a1 * tc[tj + 1]! + a2 * tc[tj + 2]! + a3 * tc[tj + 3]! + a4 * tc[tj + 4]! + a5 * tc[tj + 5]! + a6 * tc[tj + 6]! + a7 * tc[tj + 7]! + a8 * tc[tj + 8]! + a9 * tc[tj + 9]! + a10 * tc[tj + 10]! + a11 * tc[tj + 11]! + a12 * tc[tj + 12]! + a13 * tc[tj + 13]! + a14 * tc[tj + 14]! + a15 * tc[tj + 15]!;
      }
    }
  }
}

/**
 * {@link interactionBackward} for d = 16, in gather form: dT_i = Σ_{j≠i} G_ij T_j with
 * G the symmetric matrix of dZ, accumulated in locals and stored once per vector.
 */
function interactionBackward16(
  dbot: Float32Array, demb: Float32Array, dout: Float32Array, tc: Float32Array, B: number, F: number,
): void {
  const V = F + 1;
  const W = 16 + (V * (V - 1)) / 2;
  const Fd = F * 16;
  const Vd = V * 16;
  for (let b = 0; b < B; b++) {
    const t0 = b * Vd;
    const z0 = b * W + 16; // dZ pair (i, j), i > j, at z0 + i(i−1)/2 + j
    for (let i = 0; i < V; i++) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let s4 = 0;
      let s5 = 0;
      let s6 = 0;
      let s7 = 0;
      let s8 = 0;
      let s9 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      let s14 = 0;
      let s15 = 0;
      // j < i: pairs (i, j) are contiguous at z0 + i(i−1)/2 + j
      const zi = z0 + (i * (i - 1)) / 2;
      for (let j = 0; j < i; j++) {
        const g = dout[zi + j]!;
        const tj = t0 + j * 16;
        s0 += g * tc[tj + 0]!;
        s1 += g * tc[tj + 1]!;
        s2 += g * tc[tj + 2]!;
        s3 += g * tc[tj + 3]!;
        s4 += g * tc[tj + 4]!;
        s5 += g * tc[tj + 5]!;
        s6 += g * tc[tj + 6]!;
        s7 += g * tc[tj + 7]!;
        s8 += g * tc[tj + 8]!;
        s9 += g * tc[tj + 9]!;
        s10 += g * tc[tj + 10]!;
        s11 += g * tc[tj + 11]!;
        s12 += g * tc[tj + 12]!;
        s13 += g * tc[tj + 13]!;
        s14 += g * tc[tj + 14]!;
        s15 += g * tc[tj + 15]!;
      }
      // j > i: pair (j, i) at z0 + j(j−1)/2 + i, stepping by j
      let z = z0 + ((i + 1) * i) / 2 + i;
      for (let j = i + 1; j < V; j++) {
        const g = dout[z]!;
        z += j;
        const tj = t0 + j * 16;
        s0 += g * tc[tj + 0]!;
        s1 += g * tc[tj + 1]!;
        s2 += g * tc[tj + 2]!;
        s3 += g * tc[tj + 3]!;
        s4 += g * tc[tj + 4]!;
        s5 += g * tc[tj + 5]!;
        s6 += g * tc[tj + 6]!;
        s7 += g * tc[tj + 7]!;
        s8 += g * tc[tj + 8]!;
        s9 += g * tc[tj + 9]!;
        s10 += g * tc[tj + 10]!;
        s11 += g * tc[tj + 11]!;
        s12 += g * tc[tj + 12]!;
        s13 += g * tc[tj + 13]!;
        s14 += g * tc[tj + 14]!;
        s15 += g * tc[tj + 15]!;
      }
      if (i === 0) {
        const o = b * 16;
        const r = b * W;
        dbot[o + 0] = dout[r + 0]! + s0;
        dbot[o + 1] = dout[r + 1]! + s1;
        dbot[o + 2] = dout[r + 2]! + s2;
        dbot[o + 3] = dout[r + 3]! + s3;
        dbot[o + 4] = dout[r + 4]! + s4;
        dbot[o + 5] = dout[r + 5]! + s5;
        dbot[o + 6] = dout[r + 6]! + s6;
        dbot[o + 7] = dout[r + 7]! + s7;
        dbot[o + 8] = dout[r + 8]! + s8;
        dbot[o + 9] = dout[r + 9]! + s9;
        dbot[o + 10] = dout[r + 10]! + s10;
        dbot[o + 11] = dout[r + 11]! + s11;
        dbot[o + 12] = dout[r + 12]! + s12;
        dbot[o + 13] = dout[r + 13]! + s13;
        dbot[o + 14] = dout[r + 14]! + s14;
        dbot[o + 15] = dout[r + 15]! + s15;
      } else {
        const o = b * Fd + (i - 1) * 16;
        demb[o + 0] = s0;
        demb[o + 1] = s1;
        demb[o + 2] = s2;
        demb[o + 3] = s3;
        demb[o + 4] = s4;
        demb[o + 5] = s5;
        demb[o + 6] = s6;
        demb[o + 7] = s7;
        demb[o + 8] = s8;
        demb[o + 9] = s9;
        demb[o + 10] = s10;
        demb[o + 11] = s11;
        demb[o + 12] = s12;
        demb[o + 13] = s13;
        demb[o + 14] = s14;
        demb[o + 15] = s15;
      }
    }
  }
}

