/**
 * The embedding kernels in TypeScript: row gather and one table's sparse update (duplicates
 * summed, then SGD or row-wise Adagrad). They run when the native kernels are not built and
 * are the native kernels' test oracle (native/blas/kernels.cc computes the same, bit for bit).
 * Callers (embedding.ts) check shapes and turn a returned bad index into an error.
 */

/**
 * out[b, f, :] = weights[f][cats[b, f], :] for b < B, f < F.
 * @returns −1, or the flat index b·F + f of the first id outside [0, rows[f]) (out untouched then)
 */
export function tsGather(
  out: Float32Array, weights: Float32Array[], rows: Int32Array, cats: Int32Array, B: number, F: number, d: number,
): number {
  const n = B * F;
  for (let i = 0; i < n; i++) {
    const id = cats[i]!;
    if (id < 0 || id >= rows[i % F]!) return i;
  }
  for (let f = 0; f < F; f++) {
    const w = weights[f]!;
    for (let b = 0; b < B; b++) {
      const src = cats[b * F + f]! * d;
      const dst = (b * F + f) * d;
      for (let k = 0; k < d; k++) out[dst + k] = w[src + k]!;
    }
  }
  return -1;
}

/**
 * Reusable scratch: an open-addressing map row → slot sized to the batch, the unique rows in
 * first-seen order and their accumulated gradients.
 */
class ScatterScratch {
  keys = new Int32Array(0); // hash slots: row id or −1
  vals = new Int32Array(0); // hash slots: index into uniq
  uniq = new Int32Array(0); // unique row ids, first-seen order
  where = new Int32Array(0); // hash slot of each unique row (to empty the map afterwards)
  acc = new Float32Array(0); // uniq.length × d accumulated gradients
  mask = 0;

  ensure(n: number, d: number): void {
    let cap = 16;
    while (cap < 2 * n) cap <<= 1;
    if (this.keys.length < cap) {
      this.keys = new Int32Array(cap).fill(-1);
      this.vals = new Int32Array(cap);
    }
    this.mask = this.keys.length - 1;
    if (this.uniq.length < n) {
      this.uniq = new Int32Array(n);
      this.where = new Int32Array(n);
    }
    if (this.acc.length < n * d) this.acc = new Float32Array(n * d);
  }
}

const scratch = new ScatterScratch();

/**
 * Sparse update of one table (weights rows×d, optional row-wise Adagrad accumulators) from the
 * columns `cols[0..nc)` it serves: gradient rows of duplicate ids are summed (b-major, then the
 * columns, first-seen order), then each row is updated once and its touched bit set:
 *     sgd              w[r] -= lr·g
 *     row-wise adagrad a[r] += mean_k g[k]²;  w[r] -= lr·g / (sqrt(a[r]) + eps)
 * @returns −1, or the flat index b·F + f of the first id outside [0, rows) (nothing updated then)
 */
export function tsScatterTable(
  w: Float32Array, accum: Float32Array | null, touched: Uint8Array, rows: number, d: number,
  cols: Int32Array, nc: number, F: number, cats: Int32Array, B: number, grad: Float32Array, lr: number, eps: number,
): number {
  const s = scratch;
  s.ensure(B * nc, d);
  const { keys, vals, uniq, where, acc, mask } = s;
  let n = 0;
  for (let b = 0; b < B; b++) {
    for (let c = 0; c < nc; c++) {
      const f = cols[c]!;
      const id = cats[b * F + f]!;
      if (id < 0 || id >= rows) {
        for (let i = 0; i < n; i++) keys[where[i]!] = -1;
        return b * F + f;
      }
      let h = (Math.imul(id, 0x9e3779b1) >>> 7) & mask;
      let slot: number;
      for (;;) {
        const k = keys[h]!;
        if (k === id) { slot = vals[h]!; break; }
        if (k === -1) {
          keys[h] = id;
          vals[h] = n;
          uniq[n] = id;
          where[n] = h;
          slot = n++;
          const a0 = slot * d;
          for (let k2 = 0; k2 < d; k2++) acc[a0 + k2] = 0;
          break;
        }
        h = (h + 1) & mask;
      }
      const a0 = slot * d;
      const g0 = (b * F + f) * d;
      for (let k = 0; k < d; k++) acc[a0 + k] = acc[a0 + k]! + grad[g0 + k]!;
    }
  }
  const invD = 1 / d;
  for (let i = 0; i < n; i++) {
    const r = uniq[i]!;
    const a0 = i * d;
    const w0 = r * d;
    if (accum === null) {
      for (let k = 0; k < d; k++) w[w0 + k] = w[w0 + k]! - lr * acc[a0 + k]!;
    } else {
      let sq = 0;
      for (let k = 0; k < d; k++) { const g = acc[a0 + k]!; sq += g * g; }
      const m = accum[r]! + sq * invD;
      accum[r] = m;
      const step = lr / (Math.sqrt(m) + eps);
      for (let k = 0; k < d; k++) w[w0 + k] = w[w0 + k]! - step * acc[a0 + k]!;
    }
    touched[r >>> 3] = touched[r >>> 3]! | (1 << (r & 7));
    keys[where[i]!] = -1; // all lookups are done: emptying slots cannot break a probe chain
  }
  return -1;
}
