/**
 * The dense-math engine: one operation, row-major SGEMM, behind an interface with two
 * implementations — an N-API addon over OpenBLAS `cblas_sgemm` (`blas`) and a pure
 * TypeScript twin (`ts`) that is both the fallback and the test oracle.
 *
 *     createEngine('auto')   blas when native/blas/build/Release/blas.node loads, else ts
 *     createEngine('blas')   blas or a PipelineError('bad_config') with a build hint
 *     createEngine('ts')     always the TypeScript engine
 */
import { PipelineError } from '../../../pipeline/errors.js';
import { loadBlasAddon, blasAddonPath, type BlasAddon } from './addon.js';
import { tsSgemm } from './ts-sgemm.js';

/** Dense math used by the model layers. */
export interface Engine {
  readonly name: 'ts' | 'blas';
  /** what runs underneath, for logs: e.g. 'OpenBLAS 0.3.21 … SkylakeX …, 1 thread' */
  readonly detail: string;
  /**
   * Row-major C[M×N] = alpha·op(A)·op(B) + beta·C; op(X) = Xᵀ when trans.
   * Stored shapes: A is M×K (K×M when transA) with row stride lda, B is K×N (N×K when
   * transB) with row stride ldb, C is M×N with row stride ldc. Arrays may be subarrays.
   * beta = 0 overwrites C (NaNs already in C do not propagate).
   */
  sgemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number,
    C: Float32Array, ldc: number,
  ): void;
}

/** Which engine to run; `auto` prefers blas. */
export type EngineKind = 'auto' | 'ts' | 'blas';

/** The pure-TypeScript engine (naive, cache-friendly loop orders). */
export const tsEngine: Engine = { name: 'ts', detail: 'pure TypeScript sgemm', sgemm: tsSgemm };

function blasEngine(addon: BlasAddon, threads: number): Engine {
  addon.setThreads(threads);
  return { name: 'blas', detail: `${addon.config}, ${threads} thread${threads === 1 ? '' : 's'}`, sgemm: addon.sgemm };
}

/**
 * Build an engine.
 * @param kind `auto` (blas if the addon loads, else ts), `ts` or `blas`
 * @param threads OpenBLAS threads (blas only). @default 1 — sweeps run one job per core;
 *   a single run on an otherwise idle machine can give the GEMMs the second core
 * @throws PipelineError('bad_config') when `blas` is asked for and the addon cannot load
 */
export function createEngine(kind: EngineKind, threads = 1): Engine {
  if (kind === 'ts') return tsEngine;
  if (kind !== 'auto' && kind !== 'blas') {
    throw new PipelineError('bad_config', `engine: '${String(kind)}' is not one of auto, ts, blas`, {
      field: 'engine', actual: String(kind), expected: 'auto | ts | blas',
    });
  }
  if (!Number.isInteger(threads) || threads < 1) {
    throw new PipelineError('bad_config', `threads: must be a positive integer, got ${threads}`, { field: 'threads' });
  }
  const loaded = loadBlasAddon();
  if (loaded.addon) return blasEngine(loaded.addon, threads);
  if (kind === 'auto') return tsEngine;
  throw new PipelineError('bad_config', `engine: the BLAS addon could not be loaded from ${blasAddonPath()}: ${loaded.error}`, {
    field: 'engine',
    hint: 'run `npm run build:addon` (needs libopenblas-dev and a C++ compiler), or use --engine ts',
  });
}

/** True when the BLAS addon is built and loads (tests use this to skip parity checks). */
export function blasAvailable(): boolean {
  return loadBlasAddon().addon !== null;
}
