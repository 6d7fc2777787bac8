/**
 * Dense optimizers over the model's flat parameter array (PyTorch semantics):
 *
 *     sgd      p -= lr·g
 *     adagrad  s += g²;  p -= lr·g / (sqrt(s) + eps)        (s starts at initAccum)
 */
import { badConfig } from '../../../pipeline/errors.js';

/** Options of {@link DenseOptimizer}. */
export interface DenseOptOptions {
  /** learning rate */
  lr: number;
  /** Adagrad denominator epsilon. @default 1e-10 (PyTorch) */
  eps?: number;
  /** Adagrad initial accumulator value. @default 0 (PyTorch) */
  initAccum?: number;
}

/** SGD or Adagrad for the dense parameters. */
export class DenseOptimizer {
  readonly kind: 'sgd' | 'adagrad';
  lr: number;
  readonly eps: number;
  /** Adagrad accumulators (length n), null for SGD; checkpoints store it. */
  readonly state: Float32Array | null;

  constructor(kind: 'sgd' | 'adagrad', n: number, opts: DenseOptOptions) {
    if (kind !== 'sgd' && kind !== 'adagrad') throw badConfig('optimizer', `'${String(kind)}' is not sgd or adagrad`);
    if (!(opts.lr > 0) || !Number.isFinite(opts.lr)) throw badConfig('lr', `${opts.lr} is not a positive number`);
    this.kind = kind;
    this.lr = opts.lr;
    this.eps = opts.eps ?? 1e-10;
    this.state = kind === 'adagrad' ? new Float32Array(n).fill(opts.initAccum ?? 0) : null;
  }

  /** One update of params from grads (same length as the state). */
  step(params: Float32Array, grads: Float32Array): void {
    this.stepRange(params, grads, 0, params.length);
  }

  /** The update of params[lo, hi) only (a parallel worker's share of the dense step); the state outside is not touched. */
  stepRange(params: Float32Array, grads: Float32Array, lo: number, hi: number): void {
    const lr = this.lr;
    const s = this.state;
    if (s === null) {
      for (let i = lo; i < hi; i++) params[i] = params[i]! - lr * grads[i]!;
      return;
    }
    const eps = this.eps;
    for (let i = lo; i < hi; i++) {
      const g = grads[i]!;
      const acc = s[i]! + g * g;
      s[i] = acc;
      params[i] = params[i]! - (lr * g) / (Math.sqrt(acc) + eps);
    }
  }
}
