/**
 * Pure-TypeScript SGEMM: the fallback engine and the oracle the BLAS engine is tested
 * against. Loop orders keep the innermost loop on contiguous memory:
 *
 *     NN  i-k-j   C[i,:] = C[i,:]! + A[i,k] · B[k,:]
 *     NT  i-j-k   C[i,j] = C[i,j]! + A[i,:] · B[j,:]      (both rows contiguous)
 *     TN  k-i-j   C[i,:] = C[i,:]! + A[k,i] · B[k,:]
 *     TT  i-j-k   C[i,j] = C[i,j]! + A[:,i] · B[j,:]      (A strided; rare)
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
  if (alpha === 0 || K === 0) return;
  if (!transA && !transB) {
    for (let i = 0; i < M; i++) {
      const c0 = i * ldc;
      const a0 = i * lda;
      for (let k = 0; k < K; k++) {
        const a = alpha * A[a0 + k]!;
        if (a === 0) continue;
        const b0 = k * ldb;
        for (let j = 0; j < N; j++) C[c0 + j] = C[c0 + j]! + a * B[b0 + j]!;
      }
    }
  } else if (!transA && transB) {
    for (let i = 0; i < M; i++) {
      const c0 = i * ldc;
      const a0 = i * lda;
      for (let j = 0; j < N; j++) {
        const b0 = j * ldb;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let k = 0;
        for (; k + 3 < K; k += 4) {
          s0 += A[a0 + k]! * B[b0 + k]!;
          s1 += A[a0 + k + 1]! * B[b0 + k + 1]!;
          s2 += A[a0 + k + 2]! * B[b0 + k + 2]!;
          s3 += A[a0 + k + 3]! * B[b0 + k + 3]!;
        }
        for (; k < K; k++) s0 += A[a0 + k]! * B[b0 + k]!;
        C[c0 + j] = C[c0 + j]! + alpha * (s0 + s1 + s2 + s3);
      }
    }
  } else if (transA && !transB) {
    for (let k = 0; k < K; k++) {
      const a0 = k * lda;
      const b0 = k * ldb;
      for (let i = 0; i < M; i++) {
        const a = alpha * A[a0 + i]!;
        if (a === 0) continue;
        const c0 = i * ldc;
        for (let j = 0; j < N; j++) C[c0 + j] = C[c0 + j]! + a * B[b0 + j]!;
      }
    }
  } else {
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
}
