/**
 * DLRM dense part: bottom MLP → dot interaction with the gathered embedding rows → top MLP
 * → sigmoid + BCE. Embedding tables live outside (embedding.ts); this class takes the
 * gathered rows (B×F×d) and gives back their gradient.
 *
 * Parameters: ONE Float32Array, laid out layer by layer as [W (out×in), b (out)], bottom
 * layers first; `grads` has the same layout. Names: bot.0.w, bot.0.b, …, top.0.w, ….
 * Activations are allocated on the first forward for its B; a larger B reallocates.
 */
import type { Engine } from '../engine/engine.js';
import type { Rng } from '../../../pipeline/rng.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { type DlrmShape, validateShape } from './arch.js';
import { interactionWidth } from './interaction.js';
import { bitsOf, linearBackward, linearForward, sigmoidBceForwardBackward, sigmoidForward } from './layers.js';

export { parseArch, validateShape, type DlrmShape } from './arch.js';

/** One linear layer's views into params / grads. */
interface Layer {
  name: string; // 'bot.0', 'top.2'
  I: number;
  O: number;
  w: Float32Array; // O×I
  b: Float32Array; // O
  dw: Float32Array;
  db: Float32Array;
}

/** Activation buffers for a batch of up to `cap` samples. */
interface Acts {
  cap: number;
  dense: Float32Array; // cap×13 (copy of the input, read by bot.0 backward)
  bot: Float32Array[]; // per bottom layer: cap×O (post-ReLU)
  dbot: Float32Array[];
  botBits: Int32Array[]; // Int32 views of bot / dbot (branchless ReLU)
  dbotBits: Int32Array[];
  tcache: Float32Array; // cap×V×d
  r: Float32Array; // cap×(d+P) interaction output
  dr: Float32Array;
  top: Float32Array[]; // per top layer: cap×O (post-ReLU, last = logits)
  dtop: Float32Array[];
  topBits: Int32Array[];
  dtopBits: Int32Array[];
  ones: Float32Array; // cap ones (bias gradients as a GEMM)
  prob: Float32Array; // cap
  scratch: Float32Array; // V×d
}

/** The DLRM dense model with its own forward/backward. */
export class Dlrm {
  readonly shape: DlrmShape;
  readonly engine: Engine;
  /** all dense parameters, one allocation */
  readonly params: Float32Array;
  /** gradients, same layout as params */
  readonly grads: Float32Array;
  private readonly botLayers: Layer[];
  private readonly topLayers: Layer[];
  private acts: Acts | null = null;
  private lastB = 0;

  /**
   * DLRM init: W ~ N(0, sqrt(2/(fan_in+fan_out))), b ~ N(0, sqrt(1/fan_out)), drawn layer by
   * layer (bottom first, W before b) from `rng`.
   */
  constructor(shape: DlrmShape, engine: Engine, rng: Rng, buffers?: {
    /** the parameters live here (a parallel run's shared copy): left as they are, not drawn from `rng` */
    params?: Float32Array;
    /** the gradients are written here (a parallel worker's slot in shared memory) */
    grads?: Float32Array;
  }) {
    validateShape(shape);
    this.shape = { ...shape, bot: [...shape.bot], top: [...shape.top] };
    this.engine = engine;
    const specs: { name: string; I: number; O: number }[] = [];
    for (let l = 0; l + 1 < shape.bot.length; l++) specs.push({ name: `bot.${l}`, I: shape.bot[l]!, O: shape.bot[l + 1]! });
    for (let l = 0; l + 1 < shape.top.length; l++) specs.push({ name: `top.${l}`, I: shape.top[l]!, O: shape.top[l + 1]! });
    let total = 0;
    for (const s of specs) total += s.O * s.I + s.O;
    for (const [name, b] of [['params', buffers?.params], ['grads', buffers?.grads]] as const) {
      if (b && b.length !== total) throw new Error(`Dlrm: the ${name} buffer has ${b.length} floats, the shape needs ${total}`);
    }
    this.params = buffers?.params ?? new Float32Array(total);
    this.grads = buffers?.grads ?? new Float32Array(total);
    const layers: Layer[] = [];
    let off = 0;
    for (const s of specs) {
      const nw = s.O * s.I;
      layers.push({
        ...s,
        w: this.params.subarray(off, off + nw),
        b: this.params.subarray(off + nw, off + nw + s.O),
        dw: this.grads.subarray(off, off + nw),
        db: this.grads.subarray(off + nw, off + nw + s.O),
      });
      off += nw + s.O;
    }
    this.botLayers = layers.slice(0, shape.bot.length - 1);
    this.topLayers = layers.slice(shape.bot.length - 1);
    if (buffers?.params) return;
    for (const L of layers) {
      const sw = Math.sqrt(2 / (L.I + L.O));
      const sb = Math.sqrt(1 / L.O);
      for (let i = 0; i < L.w.length; i++) L.w[i] = rng.normal() * sw;
      for (let i = 0; i < L.b.length; i++) L.b[i] = rng.normal() * sb;
    }
  }

  /** Named views into params (stable names, for checkpoints): bot.0.w, bot.0.b, …, top.N.b. */
  paramViews(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const L of [...this.botLayers, ...this.topLayers]) {
      out[`${L.name}.w`] = L.w;
      out[`${L.name}.b`] = L.b;
    }
    return out;
  }

  /** Named views into grads, same names as {@link paramViews}. */
  gradViews(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const L of [...this.botLayers, ...this.topLayers]) {
      out[`${L.name}.w`] = L.dw;
      out[`${L.name}.b`] = L.db;
    }
    return out;
  }

  private ensureActs(B: number): Acts {
    if (this.acts && this.acts.cap >= B) return this.acts;
    const { dim: d, numTables: F, bot, top } = this.shape;
    const V = F + 1;
    const W = interactionWidth(d, F);
    const f32 = (n: number): Float32Array => new Float32Array(n);
    const botA = this.botLayers.map((L) => f32(B * L.O));
    const dbotA = this.botLayers.map((L) => f32(B * L.O));
    const topA = this.topLayers.map((L) => f32(B * L.O));
    const dtopA = this.topLayers.map((L) => f32(B * L.O));
    this.acts = {
      cap: B,
      dense: f32(B * bot[0]!),
      bot: botA,
      dbot: dbotA,
      botBits: botA.map(bitsOf),
      dbotBits: dbotA.map(bitsOf),
      tcache: f32(B * V * d),
      r: f32(B * W),
      dr: f32(B * W),
      top: topA,
      dtop: dtopA,
      topBits: topA.map(bitsOf),
      dtopBits: dtopA.map(bitsOf),
      ones: f32(B).fill(1),
      prob: f32(B),
      scratch: f32(V * d),
    };
    return this.acts;
  }

  /**
   * Forward pass; caches activations for {@link backward}.
   * @param B batch size (≥ 1)
   * @param dense B×13 row-major (log-transformed dense features)
   * @param emb B×F×d row-major gathered embedding rows
   * @returns probabilities, a length-B view valid until the next forward
   */
  forward(B: number, dense: Float32Array, emb: Float32Array): Float32Array {
    const { dim: d, numTables: F, bot } = this.shape;
    if (!Number.isInteger(B) || B < 1) throw new PipelineError('internal', `Dlrm.forward: batch size ${B} is not a positive integer`);
    const nIn = bot[0]!;
    if (dense.length < B * nIn) throw new PipelineError('internal', `Dlrm.forward: dense has ${dense.length} floats, need ${B}×${nIn}`);
    if (emb.length < B * F * d) throw new PipelineError('internal', `Dlrm.forward: emb has ${emb.length} floats, need ${B}×${F}×${d}`);
    const a = this.ensureActs(B);
    const eng = this.engine;
    a.dense.set(dense.subarray(0, B * nIn));
    let x = a.dense;
    for (let l = 0; l < this.botLayers.length; l++) {
      const L = this.botLayers[l]!;
      linearForward(eng, a.bot[l]!, a.botBits[l]!, x, L.w, L.b, B, L.I, L.O);
      x = a.bot[l]!;
    }
    eng.kernels.interactionForward(a.r, a.tcache, x, emb, B, F, d);
    x = a.r;
    const last = this.topLayers.length - 1;
    for (let l = 0; l <= last; l++) {
      const L = this.topLayers[l]!;
      linearForward(eng, a.top[l]!, l < last ? a.topBits[l]! : null, x, L.w, L.b, B, L.I, L.O);
      x = a.top[l]!;
    }
    sigmoidForward(a.prob, x, B);
    this.lastB = B;
    return a.prob.subarray(0, B);
  }

  /** Logits (pre-sigmoid) of the last {@link forward}: a length-B view valid until the next forward. */
  logits(): Float32Array {
    const a = this.acts;
    if (!a || this.lastB === 0) throw new PipelineError('internal', 'Dlrm.logits called before forward');
    return a.top[this.topLayers.length - 1]!.subarray(0, this.lastB);
  }

  /**
   * Backward pass for the last {@link forward}: zeroes grads, computes the mean BCE against
   * `labels`, fills `grads` and overwrites embGrad[B×F×d] with dLoss/dEmb.
   * @returns the mean loss
   */
  backward(labels: ArrayLike<number>, embGrad: Float32Array): number {
    const a = this.acts;
    const B = this.lastB;
    if (!a || B === 0) throw new PipelineError('internal', 'Dlrm.backward called before forward');
    const { dim: d, numTables: F } = this.shape;
    if (labels.length < B) throw new PipelineError('internal', `Dlrm.backward: ${labels.length} labels for a batch of ${B}`);
    if (embGrad.length < B * F * d) throw new PipelineError('internal', `Dlrm.backward: embGrad has ${embGrad.length} floats, need ${B}×${F}×${d}`);
    const eng = this.engine;
    this.grads.fill(0);
    const last = this.topLayers.length - 1;
    const loss = sigmoidBceForwardBackward(a.prob, a.dtop[last]!, a.top[last]!, labels, B);
    for (let l = last; l >= 0; l--) {
      const L = this.topLayers[l]!;
      if (l < last) eng.kernels.reluBackward(a.dtopBits[l]!, a.topBits[l]!, B * L.O);
      const inp = l === 0 ? a.r : a.top[l - 1]!;
      const dinp = l === 0 ? a.dr : a.dtop[l - 1]!;
      linearBackward(eng, dinp, L.dw, L.db, a.dtop[l]!, inp, L.w, a.ones, B, L.I, L.O);
    }
    const nb = this.botLayers.length;
    eng.kernels.interactionBackward(a.dbot[nb - 1]!, embGrad, a.dr, a.tcache, a.scratch, B, F, d);
    for (let l = nb - 1; l >= 0; l--) {
      const L = this.botLayers[l]!;
      eng.kernels.reluBackward(a.dbotBits[l]!, a.botBits[l]!, B * L.O);
      const inp = l === 0 ? a.dense : a.bot[l - 1]!;
      linearBackward(eng, l === 0 ? null : a.dbot[l - 1]!, L.dw, L.db, a.dbot[l]!, inp, L.w, a.ones, B, L.I, L.O);
    }
    return loss;
  }
}
