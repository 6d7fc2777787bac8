/**
 * The DLRM kernels around the GEMMs, behind one interface with two implementations: native
 * (native/blas/kernels.cc in the BLAS addon, vectorised, AVX-512 / AVX2 / baseline chosen at
 * load time) and TypeScript (the twins in model/, the fallback and the test oracle). The native
 * ones compute the same as the TypeScript d = 16 kernels, bit for bit (float64 sums in the same
 * order and rounding where JS stores to float32).
 *
 *     interactionForward / Backward   model/interaction.ts
 *     gather, scatterTable            model/sparse-kernels.ts (called through model/embedding.ts)
 *     biasRelu, reluBackward          model/layers.ts (after each GEMM, and its backward)
 *     biasGrad                        model/layers.ts (bias gradients: a column sum of dout)
 *     parallel.parRoute / parApply    parallel/route-kernels.ts (a parallel worker's sparse step)
 */
import { interactionBackward, interactionForward } from '../model/interaction.js';
import { reluBackward, tsBiasGrad, tsBiasRelu } from '../model/layers.js';
import { tsGather, tsScatterTable } from '../model/sparse-kernels.js';
import { tsParallelKernels, type ParallelKernels } from '../parallel/route-kernels.js';

/** The kernels a model step runs besides the GEMMs. */
export interface Kernels {
  readonly name: 'ts' | 'native';
  /** for logs: 'native kernels (avx2)', 'TypeScript kernels' */
  readonly detail: string;
  /** out[B×(d+P)] = [bot, Zflat], tcache[B×V×d] = T (model/interaction.ts) */
  interactionForward(out: Float32Array, tcache: Float32Array, bot: Float32Array, emb: Float32Array, B: number, F: number, d: number): void;
  /** dbot, demb from dout and the forward's tcache; scratch ≥ V×d floats (model/interaction.ts) */
  interactionBackward(
    dbot: Float32Array, demb: Float32Array, dout: Float32Array, tcache: Float32Array, scratch: Float32Array, B: number, F: number, d: number,
  ): void;
  /** embedding rows; −1 or the flat index of the first bad id (model/sparse-kernels.ts) */
  gather(out: Float32Array, weights: Float32Array[], rows: Int32Array, cats: Int32Array, B: number, F: number, d: number): number;
  /** one table's sparse update; −1 or the flat index of the first bad id (model/sparse-kernels.ts) */
  scatterTable(
    w: Float32Array, accum: Float32Array | null, touched: Uint8Array, rows: number, d: number,
    cols: Int32Array, nc: number, F: number, cats: Int32Array, B: number, grad: Float32Array, lr: number, eps: number,
  ): number;
  /** out[b, :] += bias, then ReLU when reluBits (an Int32 view of out) is given (model/layers.ts) */
  biasRelu(out: Float32Array, reluBits: Int32Array | null, bias: Float32Array, B: number, O: number): void;
  /** ReLU backward in place on Int32 views: dout = out > 0 ? dout : 0 (model/layers.ts) */
  reluBackward(doutBits: Int32Array, outBits: Int32Array, n: number): void;
  /** dbias[o] += Σ_b dout[b·O + o] (model/layers.ts) */
  biasGrad(dbias: Float32Array, dout: Float32Array, B: number, O: number): void;
  /** the sparse step of a parallel worker (parallel/route-kernels.ts) */
  readonly parallel: ParallelKernels;
}

/** What kernels.cc exports (as `kernels` of the BLAS addon). */
export interface NativeKernelsAddon {
  interactionForward(out: Float32Array, tcache: Float32Array, bot: Float32Array, emb: Float32Array, B: number, F: number, d: number): void;
  interactionBackward(dbot: Float32Array, demb: Float32Array, dout: Float32Array, tcache: Float32Array, B: number, F: number, d: number): void;
  gather(out: Float32Array, weights: Float32Array[], rows: Int32Array, cats: Int32Array, B: number, F: number, d: number): number;
  scatterTable(
    w: Float32Array, accum: Float32Array | null, touched: Uint8Array, rows: number, d: number,
    cols: Int32Array, nc: number, F: number, cats: Int32Array, B: number, grad: Float32Array, lr: number, eps: number,
  ): number;
  biasRelu(out: Float32Array, bias: Float32Array, B: number, O: number, relu: boolean): void;
  reluBackward(doutBits: Int32Array, outBits: Int32Array, n: number): void;
  biasGrad(dbias: Float32Array, dout: Float32Array, B: number, O: number): void;
  /** parallel.cc (absent in an older build: then the TypeScript twins run) */
  parRoute?: ParallelKernels['parRoute'];
  parApply?: ParallelKernels['parApply'];
  /** the instruction set the loader chose: 'avx512f', 'avx2', 'x86-64' */
  isa: string;
}

/** The TypeScript kernels. */
export const tsKernels: Kernels = {
  name: 'ts',
  detail: 'TypeScript kernels',
  interactionForward,
  interactionBackward,
  gather: tsGather,
  scatterTable: tsScatterTable,
  biasRelu: tsBiasRelu,
  reluBackward,
  biasGrad: tsBiasGrad,
  parallel: tsParallelKernels,
};

/** True when `x` has every function of {@link NativeKernelsAddon} (an older addon build may lack them). */
export function isNativeKernels(x: unknown): x is NativeKernelsAddon {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return ['interactionForward', 'interactionBackward', 'gather', 'scatterTable', 'biasRelu', 'reluBackward', 'biasGrad'].every((k) => typeof o[k] === 'function');
}

/** The native kernels over the addon's exports. */
export function nativeKernels(k: NativeKernelsAddon): Kernels {
  return {
    name: 'native',
    detail: `native kernels (${k.isa})`,
    interactionForward: (out, tcache, bot, emb, B, F, d) => k.interactionForward(out, tcache, bot, emb, B, F, d),
    interactionBackward: (dbot, demb, dout, tcache, _scratch, B, F, d) => k.interactionBackward(dbot, demb, dout, tcache, B, F, d),
    gather: (out, weights, rows, cats, B, F, d) => k.gather(out, weights, rows, cats, B, F, d),
    scatterTable: (w, accum, touched, rows, d, cols, nc, F, cats, B, grad, lr, eps) =>
      k.scatterTable(w, accum, touched, rows, d, cols, nc, F, cats, B, grad, lr, eps),
    biasRelu: (out, reluBits, bias, B, O) => k.biasRelu(out, bias, B, O, reluBits !== null),
    reluBackward: (doutBits, outBits, n) => k.reluBackward(doutBits, outBits, n),
    biasGrad: (dbias, dout, B, O) => k.biasGrad(dbias, dout, B, O),
    parallel: k.parRoute && k.parApply ? { name: 'native', parRoute: k.parRoute, parApply: k.parApply } : tsParallelKernels,
  };
}
