/**
 * Dense layers as forward/backward pairs (llm.c style): outputs first, then inputs, then
 * weights, then dimensions; shapes in the comments; nothing allocated per call. Backward
 * functions ADD into parameter gradients (cleared once per step by the model) and
 * OVERWRITE input gradients.
 *
 * Weights are stored PyTorch-style, W[O×I] (out × in), so y = x·Wᵀ + b.
 */
import type { Engine } from '../engine/engine.js';

/**
 * Int32 view over a Float32Array's bytes, for the branchless ReLU kernels below. Make it once
 * per activation buffer (the model keeps them next to the buffers).
 */
export function bitsOf(x: Float32Array): Int32Array {
  return new Int32Array(x.buffer, x.byteOffset, x.length);
}

/**
 * out[B×O] = inp[B×I] · W[O×I]ᵀ + bias[O], then ReLU when `reluBits` (an Int32 view of out) is given:
 * the GEMM overwrites out (beta = 0), then the engine's kernels add the bias and apply the ReLU
 * in one pass ({@link tsBiasRelu} or its native twin).
 */
export function linearForward(
  engine: Engine, out: Float32Array, reluBits: Int32Array | null, inp: Float32Array, weight: Float32Array,
  bias: Float32Array, B: number, I: number, O: number,
): void {
  engine.sgemm(false, true, B, O, I, 1, inp, I, weight, I, 0, out, O);
  engine.kernels.biasRelu(out, reluBits, bias, B, O);
}

/**
 * out[b, o] += bias[o] for b < B, then ReLU when `reluBits` (an Int32 view of out) is given. ReLU
 * clears negative floats through their sign bit (x & ~(x >> 31)) — no branches, which matters:
 * a compare-and-branch per element mispredicts half the time on fresh activations.
 */
export function tsBiasRelu(out: Float32Array, reluBits: Int32Array | null, bias: Float32Array, B: number, O: number): void {
  for (let b = 0; b < B; b++) {
    const r = b * O;
    for (let o = 0; o < O; o++) out[r + o] = out[r + o]! + bias[o]!;
  }
  if (reluBits) {
    const n = B * O;
    for (let i = 0; i < n; i++) {
      const x = reluBits[i]!;
      reluBits[i] = x & ~(x >> 31);
    }
  }
}

/**
 * ReLU backward in place: dout[n] = out > 0 ? dout : 0, on Int32 views of both. out is a ReLU
 * output (≥ +0), so −bits(out) >> 31 is all ones exactly when out > 0.
 */
export function reluBackward(doutBits: Int32Array, outBits: Int32Array, n: number): void {
  for (let i = 0; i < n; i++) doutBits[i] = doutBits[i]! & (-outBits[i]! >> 31);
}

/**
 * dbias[o] += Σ_b dout[b·O + o]: float32 adds in b order for each o (the native twin vectorises
 * across o in the same order, so the two agree bit for bit).
 */
export function tsBiasGrad(dbias: Float32Array, dout: Float32Array, B: number, O: number): void {
  for (let b = 0; b < B; b++) {
    const r = b * O;
    for (let o = 0; o < O; o++) dbias[o] = dbias[o]! + dout[r + o]!;
  }
}

/**
 * Linear backward (the ReLU, if any, already folded into dout):
 *   dinp[B×I]  = dout[B×O] · W[O×I]        (skipped when dinp is null: the model input)
 *   dW[O×I]   += dout[B×O]ᵀ · inp[B×I]
 *   dbias[O]  += Σ_b dout[b, :]             (the engine's column-sum kernel; as a GEMM with N = 1
 *                                            it cost ≈ 3.7 ms CPU per Kaggle step)
 * `ones` is unused since the column-sum kernel (kept so older callers type-check).
 */
export function linearBackward(
  engine: Engine, dinp: Float32Array | null, dweight: Float32Array, dbias: Float32Array,
  dout: Float32Array, inp: Float32Array, weight: Float32Array, _ones: Float32Array,
  B: number, I: number, O: number,
): void {
  if (dinp) engine.sgemm(false, false, B, I, O, 1, dout, O, weight, I, 0, dinp, I);
  engine.sgemm(true, false, O, I, B, 1, dout, O, inp, I, 1, dweight, I);
  engine.kernels.biasGrad(dbias, dout, B, O);
}

/**
 * Sigmoid + mean binary cross-entropy, computed from logits (numerically stable):
 *   prob[b]  = σ(z[b])
 *   loss     = mean_b  max(z,0) − z·y + log(1 + e^{−|z|})
 *   dlogit[b] = (σ(z[b]) − y[b]) / B
 * @returns the mean loss (float64 accumulation)
 */
export function sigmoidBceForwardBackward(
  prob: Float32Array, dlogit: Float32Array, logit: Float32Array, labels: ArrayLike<number>, B: number,
): number {
  let sum = 0;
  const invB = 1 / B;
  for (let b = 0; b < B; b++) {
    const z = logit[b]!;
    const y = labels[b]!;
    const e = Math.exp(-Math.abs(z));
    const p = z >= 0 ? 1 / (1 + e) : e / (1 + e);
    prob[b] = p;
    sum += (z > 0 ? z : 0) - z * y + Math.log1p(e);
    dlogit[b] = (p - y) * invB;
  }
  return sum * invB;
}

/** prob[b] = σ(logit[b]) without overflow. */
export function sigmoidForward(prob: Float32Array, logit: Float32Array, B: number): void {
  for (let b = 0; b < B; b++) {
    const z = logit[b]!;
    const e = Math.exp(-Math.abs(z));
    prob[b] = z >= 0 ? 1 / (1 + e) : e / (1 + e);
  }
}
