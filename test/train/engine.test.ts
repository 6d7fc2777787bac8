import { describe, expect, it } from 'vitest';
import { blasAvailable, createEngine, tsEngine, type Engine } from '../../stages/train/engine/engine.js';
import { PipelineError } from '../../pipeline/errors.js';
import { Rng } from '../../pipeline/rng.js';

/** float64 reference C = alpha·op(A)·op(B) + beta·C over subarray-free arrays. */
function refSgemm(
  tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number, C: Float32Array, ldc: number,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = tA ? A[k * lda + i]! : A[i * lda + k]!;
        const b = tB ? B[j * ldb + k]! : B[k * ldb + j]!;
        s += a * b;
      }
      out[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * C[i * ldc + j]!);
    }
  }
  return out;
}

function rand(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.float() * 2 - 1;
  return a;
}

const combos: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

/** Runs engine.sgemm on subarrays (offset 3 floats into a bigger buffer, padded ld) and returns maxdiff vs reference. */
function maxDiff(
  engine: Engine, tA: boolean, tB: boolean, M: number, N: number, K: number, alpha: number, beta: number, seed: number,
  zeroFraction = 0,
): number {
  const rng = new Rng(seed);
  const [ar, ac] = tA ? [K, M] : [M, K];
  const [br, bc] = tB ? [N, K] : [K, N];
  const lda = ac + 2, ldb = bc + 1, ldc = N + 3;
  const Abuf = rand(rng, 3 + ar * lda), Bbuf = rand(rng, 5 + br * ldb), Cbuf = rand(rng, 7 + M * ldc);
  // ReLU-like sparsity in A exercises the kernels' skip-zero paths
  for (let i = 0; i < Abuf.length; i++) if (rng.float() < zeroFraction) Abuf[i] = 0;
  const A = Abuf.subarray(3), B = Bbuf.subarray(5), C = Cbuf.subarray(7);
  const want = refSgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  const before = Float32Array.from(Cbuf);
  engine.sgemm(tA, tB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  let md = 0;
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) md = Math.max(md, Math.abs(C[i * ldc + j]! - want[i * N + j]!));
  // padding columns and the prefix are untouched
  for (let i = 0; i < 7; i++) expect(Cbuf[i]).toBe(before[i]);
  for (let i = 0; i < M; i++) for (let j = N; j < ldc && i * ldc + j < C.length; j++) expect(C[i * ldc + j]).toBe(before[7 + i * ldc + j]);
  return md;
}

describe('ts sgemm', () => {
  for (const [tA, tB] of combos) {
    it(`matches a float64 reference (transA=${tA}, transB=${tB}) on subarrays with padded strides`, () => {
      for (const [alpha, beta] of [[1, 0], [0.5, 1], [-1.5, 0.25]] as const) {
        for (const zeros of [0, 0.8]) {
          expect(maxDiff(tsEngine, tA, tB, 7, 9, 11, alpha, beta, 11, zeros)).toBeLessThan(1e-5);
          expect(maxDiff(tsEngine, tA, tB, 16, 5, 12, alpha, beta, 12, zeros)).toBeLessThan(1e-5);
        }
      }
    });
  }

  it('beta = 0 overwrites NaNs already in C', () => {
    const C = new Float32Array([NaN, NaN]);
    tsEngine.sgemm(false, false, 1, 2, 1, 1, new Float32Array([2]), 1, new Float32Array([3, 4]), 2, 0, C, 2);
    expect(Array.from(C)).toEqual([6, 8]);
  });
});

describe('engine selection', () => {
  it('ts is always available; auto picks blas when the addon loads', () => {
    expect(createEngine('ts').name).toBe('ts');
    expect(createEngine('auto').name).toBe(blasAvailable() ? 'blas' : 'ts');
  });
  it('an unknown kind or a thread count below one is a bad_config error', () => {
    expect(() => createEngine('gpu' as 'ts')).toThrow(PipelineError);
    expect(() => createEngine('auto', 0)).toThrow(/threads: must be a positive integer/);
  });
});

describe.skipIf(!blasAvailable())('blas sgemm (addon built)', () => {
  for (const [tA, tB] of combos) {
    it(`matches ts within float tolerance (transA=${tA}, transB=${tB})`, () => {
      const blas = createEngine('blas');
      expect(blas.name).toBe('blas');
      for (const [M, N, K] of [[7, 9, 11], [64, 33, 130], [1, 5, 3]] as const) {
        const mb = maxDiff(blas, tA, tB, M, N, K, 0.75, 0.5, M * 31 + N);
        const mt = maxDiff(tsEngine, tA, tB, M, N, K, 0.75, 0.5, M * 31 + N);
        console.log(`sgemm ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'} ${M}x${N}x${K}: maxdiff blas ${mb.toExponential(2)}, ts ${mt.toExponential(2)} vs float64`);
        expect(mb).toBeLessThan(1e-4);
      }
    });
  }

  it('runs OpenBLAS on the asked number of threads with the same results to float tolerance', () => {
    const two = createEngine('blas', 2);
    expect(two.detail).toMatch(/, 2 threads, (native|TypeScript) kernels/);
    const mb = maxDiff(two, false, true, 256, 128, 512, 1, 0, 5);
    createEngine('blas', 1);
    expect(mb).toBeLessThan(1e-3);
  });

  it('rejects arrays too short for the given extents instead of reading past them', () => {
    const blas = createEngine('blas');
    const A = new Float32Array(4), B = new Float32Array(4), C = new Float32Array(3);
    expect(() => blas.sgemm(false, false, 2, 2, 2, 1, A, 2, B, 2, 0, C, 2)).toThrow(/too short/);
  });
});

if (!blasAvailable()) {
  describe('blas sgemm', () => {
    it.skip('SKIPPED: BLAS addon not built (run `npm run build:addon`)', () => {});
  });
}
