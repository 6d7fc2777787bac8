/**
 * Pure-TypeScript SGEMM: the fallback engine and the oracle the BLAS engine is tested
 * against. Loop orders keep the innermost loop on contiguous memory, and the common cases are
 * unrolled so each load feeds several multiply-adds:
 *
 *     NN  i-k-j   C[i,:] += Σ_{4 k} A[i,k] · B[k,:]          (4 k per pass over C[i,:])
 *     NT  i-j-k   C[i,j] += A[i,:] · B[j,:]                   (2×2 dot products share loads)
 *     TN  k-i-j   C[i,:] += Σ_{4 k} A[k,i] · B[k,:]
 *     TT  i-j-k   C[i,j] += A[:,i] · B[j,:]                   (A strided; rare, plain loops)
 */

/** Row-major C[M×N] = alpha·op(A)·op(B) + beta·C. See {@link Engine.sgemm}. */
export function tsSgemm(
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number,
  C: Float32Array, ldc: number,
): void {
  // C *= beta (beta = 0 writes zeros, as BLAS does)
  for (let i = 0; i < M; i++) {
    const c0 = i * ldc;
    if (beta === 0) C.fill(0, c0, c0 + N);
    else if (beta !== 1) for (let j = 0; j < N; j++) C[c0 + j] = C[c0 + j]! * beta;
  }
  if (alpha === 0 || K === 0 || M === 0 || N === 0) return;
  if (!transA && !transB) gemmNN(M, N, K, alpha, A, lda, B, ldb, C, ldc);
  else if (!transA && transB) gemmNT(M, N, K, alpha, A, lda, B, ldb, C, ldc);
  else if (transA && !transB) gemmTN(M, N, K, alpha, A, lda, B, ldb, C, ldc);
  else gemmTT(M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

/** C[M×N] += alpha · A[M×K] · B[K×N] */
function gemmNN(
  M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  C: Float32Array, ldc: number,
): void {
  for (let i = 0; i < M; i++) {
    const c0 = i * ldc;
    const a0 = i * lda;
    let k = 0;
    for (; k + 3 < K; k += 4) {
      const x0 = alpha * A[a0 + k]!, x1 = alpha * A[a0 + k + 1]!, x2 = alpha * A[a0 + k + 2]!, x3 = alpha * A[a0 + k + 3]!;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue; // ReLU zeros are common
      const b0 = k * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
      for (let j = 0; j < N; j++) {
        C[c0 + j] = C[c0 + j]! + x0 * B[b0 + j]! + x1 * B[b1 + j]! + x2 * B[b2 + j]! + x3 * B[b3 + j]!;
      }
    }
    for (; k < K; k++) {
      const x = alpha * A[a0 + k]!;
      if (x === 0) continue;
      const b0 = k * ldb;
      for (let j = 0; j < N; j++) C[c0 + j] = C[c0 + j]! + x * B[b0 + j]!;
    }
  }
}

/** C[M×N] += alpha · A[M×K] · B[N×K]ᵀ */
function gemmNT(
  M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  C: Float32Array, ldc: number,
): void {
  let i = 0;
  for (; i + 1 < M; i += 2) {
    const a0 = i * lda, a1 = a0 + lda;
    const c0 = i * ldc, c1 = c0 + ldc;
    let j = 0;
    for (; j + 1 < N; j += 2) {
      const b0 = j * ldb, b1 = b0 + ldb;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = A[a0 + k]!, x1 = A[a1 + k]!, y0 = B[b0 + k]!, y1 = B[b1 + k]!;
        s00 += x0 * y0; s01 += x0 * y1; s10 += x1 * y0; s11 += x1 * y1;
      }
      C[c0 + j] = C[c0 + j]! + alpha * s00;
      C[c0 + j + 1] = C[c0 + j + 1]! + alpha * s01;
      C[c1 + j] = C[c1 + j]! + alpha * s10;
      C[c1 + j + 1] = C[c1 + j + 1]! + alpha * s11;
    }
    if (j < N) {
      const b0 = j * ldb;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < K; k++) { const y = B[b0 + k]!; s0 += A[a0 + k]! * y; s1 += A[a1 + k]! * y; }
      C[c0 + j] = C[c0 + j]! + alpha * s0;
      C[c1 + j] = C[c1 + j]! + alpha * s1;
    }
  }
  if (i < M) {
    const a0 = i * lda, c0 = i * ldc;
    for (let j = 0; j < N; j++) {
      const b0 = j * ldb;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[a0 + k]! * B[b0 + k]!;
      C[c0 + j] = C[c0 + j]! + alpha * s;
    }
  }
}

/** C[M×N] += alpha · A[K×M]ᵀ · B[K×N] */
function gemmTN(
  M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  C: Float32Array, ldc: number,
): void {
  let k = 0;
  for (; k + 3 < K; k += 4) {
    const a0 = k * lda, a1 = a0 + lda, a2 = a1 + lda, a3 = a2 + lda;
    const b0 = k * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
    for (let i = 0; i < M; i++) {
      const x0 = alpha * A[a0 + i]!, x1 = alpha * A[a1 + i]!, x2 = alpha * A[a2 + i]!, x3 = alpha * A[a3 + i]!;
      if (x0 === 0 && x1 === 0 && x2 === 0 && x3 === 0) continue;
      const c0 = i * ldc;
      for (let j = 0; j < N; j++) {
        C[c0 + j] = C[c0 + j]! + x0 * B[b0 + j]! + x1 * B[b1 + j]! + x2 * B[b2 + j]! + x3 * B[b3 + j]!;
      }
    }
  }
  for (; k < K; k++) {
    const a0 = k * lda, b0 = k * ldb;
    for (let i = 0; i < M; i++) {
      const x = alpha * A[a0 + i]!;
      if (x === 0) continue;
      const c0 = i * ldc;
      for (let j = 0; j < N; j++) C[c0 + j] = C[c0 + j]! + x * B[b0 + j]!;
    }
  }
}

/** C[M×N] += alpha · A[K×M]ᵀ · B[N×K]ᵀ */
function gemmTT(
  M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number, B: Float32Array, ldb: number,
  C: Float32Array, ldc: number,
): void {
  for (let i = 0; i < M; i++) {
    const c0 = i * ldc;
    for (let j = 0; j < N; j++) {
      const b0 = j * ldb;
      let s = 0;
      for (let k = 0; k < K; k++) s += A[k * lda + i]! * B[b0 + k]!;
      C[c0 + j] = C[c0 + j]! + alpha * s;
    }
  }
}
