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
import { isNativeKernels, nativeKernels, tsKernels, type Kernels } from './kernels.js';
import { tsSgemm } from './ts-sgemm.js';

/** Dense math used by the model layers. */
export interface Engine {
  readonly name: 'ts' | 'blas';
  /** interaction, gather/scatter, bias + ReLU: native with the addon, else the TypeScript twins */
  readonly kernels: Kernels;
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

/** Which kernels run beside the GEMMs; `auto`: native when the addon has them (blas engine only). */
export type KernelsKind = 'auto' | 'ts' | 'native';

/** The pure-TypeScript engine (naive, cache-friendly loop orders) with the TypeScript kernels. */
export const tsEngine: Engine = { name: 'ts', kernels: tsKernels, detail: 'pure TypeScript sgemm, TypeScript kernels', sgemm: tsSgemm };

function blasEngine(addon: BlasAddon, threads: number, want: KernelsKind): Engine {
  addon.setThreads(threads);
  const native = isNativeKernels(addon.kernels) ? nativeKernels(addon.kernels) : null;
  if (want === 'native' && !native) {
    throw new PipelineError('bad_config', `kernels: the BLAS addon at ${blasAddonPath()} has no native kernels (an older build)`, {
      field: 'kernels', hint: 'rebuild it with `npm run build:addon`',
    });
  }
  const kernels = want === 'ts' || !native ? tsKernels : native;
  const why = native || want === 'ts' ? '' : ' (addon built without them)';
  return {
    name: 'blas', kernels,
    detail: `${addon.config}, ${threads} thread${threads === 1 ? '' : 's'}, ${kernels.detail}${why}`,
    sgemm: addon.sgemm,
  };
}

/** `HOTCOLD_KERNELS=ts|native` picks the kernels when the caller does not (benchmarks, A/B runs). */
function kernelsFromEnv(): KernelsKind {
  const v = process.env.HOTCOLD_KERNELS;
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'ts' || v === 'native') return v;
  throw new PipelineError('bad_config', `HOTCOLD_KERNELS: '${v}' is not one of auto, ts, native`, { field: 'HOTCOLD_KERNELS' });
}

/**
 * Build an engine.
 * @param kind `auto` (blas if the addon loads, else ts), `ts` or `blas`
 * @param threads OpenBLAS threads (blas only). @default 1 — sweeps run one job per core;
 *   a single run on an otherwise idle machine can give the GEMMs the second core
 * @param kernels `auto` (native with the blas engine when built), `ts` or `native`
 *   @default $HOTCOLD_KERNELS, else auto. The ts engine always runs the TypeScript kernels.
 * @throws PipelineError('bad_config') when `blas` is asked for and the addon cannot load
 */
export function createEngine(kind: EngineKind, threads = 1, kernels: KernelsKind = kernelsFromEnv()): Engine {
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
  if (loaded.addon) return blasEngine(loaded.addon, threads, kernels);
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
