/**
 * The planted model behind the synthetic labels, and the feature samplers it is
 * defined over.
 *
 *   logit = bias + τ · ( Σ_f w_f(rank_f, day) + Σ_(a,b) g_ab(rank_a, rank_b) + Σ_j d_j · z(ln(1 + I_j)) )
 *
 * - w_f: per-value weight σ_f · decay(rank) · N(0,1)-like hash of (seed, f, rank,
 *   epoch); decay(r) = 1/sqrt(1 + r/64), so popular values carry the signal. A
 *   missing value has its own weight. With drift x, each popular value (rank < 1000)
 *   re-draws its weight at each day boundary with probability x (its epoch moves on).
 * - g_ab: hashed weight per pair of values of a few small features.
 * - d_j: hashed coefficient on the standardised DLRM transform ln(1 + max(I_j, 0))
 *   (missing → 0, as preprocess sees it).
 * - bias and τ are fitted on simulated rows so the CTR and the expected Bayes AUC
 *   hit their targets.
 *
 * Weights are never stored per value: the first 2,048 ranks of each feature are
 * tabulated per day, the rest computed from the hash when drawn.
 */
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT, KAGGLE_CARDINALITIES } from '../criteo/constants.js';
import {
  CALIBRATION_ROWS,
  CAT_MISSING_RATE,
  DRIFT_POPULAR_RANKS,
  INTERACTION_PAIRS,
  INT_MISSING_RATE,
  INT_QUANTILES,
  INT_QUANTILE_P,
  MIN_CARDINALITY,
  TOP_SHARE,
  WEIGHT_DECAY_RANK,
  ZIPF_EXPONENT,
} from './constants.js';
import { DenseSampler } from './dense.js';
import { Rng } from '../../pipeline/rng.js';
import { fitBiasTemperature } from './calibrate.js';
import { hash4, hashNormal, hashUnit, permute32 } from './mix.js';
import { fitZipfOffset, ZIPF_HEAD_MAX, ZipfSampler } from './zipf.js';
import { PipelineError } from '../../pipeline/errors.js';

// Local copies: module bindings read in hot loops can cost a getter call each.
const NC = CAT_FEATURE_COUNT;
const NI = INT_FEATURE_COUNT;

/** Options that define a planted model. */
export interface PlantedConfig {
  /** Seed of every weight, id and calibration draw. */
  seed: number;
  /** Cardinality factor applied to Kaggle's table sizes. */
  scale: number;
  /** Fraction of popular values whose weight is re-drawn at each day boundary. */
  drift: number;
  /** Target CTR (mean click probability). */
  ctr: number;
  /** Target expected Bayes AUC. */
  auc: number;
}

const SALT_WEIGHT = 0x57e1;
const SALT_MISSING = 0x3155;
const SALT_SIGMA = 0x5167;
const SALT_PAIR = 0xa1b2;
const SALT_DENSE = 0xde45;
const SALT_DRIFT = 0xd41f;
const SALT_HEX = 0x4e78;
const SALT_CALIBRATE = 0xca11;

/** Relative scales of the three kinds of term before τ. */
const PAIR_SIGMA = 0.8;
const DENSE_SIGMA = 0.25;

/** Table size of feature f at a given scale: max(min(K_f, 10), round(K_f · scale)). */
export function scaledCardinality(kaggle: number, scale: number): number {
  return Math.max(Math.min(kaggle, MIN_CARDINALITY), Math.round(kaggle * scale));
}

let fittedOffsets: number[] | undefined;
/** Zipf offsets q of C1..C26, fitted once to the top shares at full Kaggle size. */
export function zipfOffsets(): readonly number[] {
  fittedOffsets ??= KAGGLE_CARDINALITIES.map((k, f) => fitZipfOffset(k, ZIPF_EXPONENT, TOP_SHARE[f]!));
  return fittedOffsets;
}

// Ranks past the tabulated head are assumed never to drift (epoch 0) in sampleRow.
if (DRIFT_POPULAR_RANKS > ZIPF_HEAD_MAX) {
  throw new PipelineError('internal', 'DRIFT_POPULAR_RANKS must not exceed ZIPF_HEAD_MAX');
}

function decay(rank: number): number {
  return 1 / Math.sqrt(1 + rank / WEIGHT_DECAY_RANK);
}

export class PlantedModel {
  /** Table size of C1..C26. */
  readonly cardinalities: number[];
  readonly samplers: ZipfSampler[];
  readonly dense: DenseSampler[];
  /** Fitted bias and temperature. */
  readonly bias: number;
  readonly temperature: number;
  /** Expected Bayes AUC on the calibration rows. */
  readonly calibrationAuc: number;
  /** Day the per-value weights are currently set for. */
  day = 0;

  private readonly sigma: Float64Array; // [26] per-feature weight scale
  private readonly headW: Float32Array[]; // [26][headSize] weights of the current day
  private readonly missW: Float64Array; // [26] weight of a missing value
  private readonly denseW: Float32Array[]; // [13][table] d_j · z(ln(1+x)) per table entry
  private readonly denseMissW: Float64Array; // [13] the same for a missing cell
  private readonly hexK0: Uint32Array; // [26] keys of the rank → id bijection
  private readonly hexK1: Uint32Array;
  private readonly catMiss: Float64Array; // [26] missing rate
  private readonly intMiss: Float64Array; // [13]
  private readonly catKeepInv: Float64Array; // [26] 1 / (1 - missing rate)
  private readonly intKeepInv: Float64Array; // [13]
  private readonly pairA: Int32Array;
  private readonly pairB: Int32Array;
  private readonly seed: number;
  private readonly seedW: number; // seed of the per-value weights

  constructor(readonly config: PlantedConfig) {
    const seed = config.seed >>> 0;
    this.seed = seed;
    this.seedW = (seed ^ SALT_WEIGHT) >>> 0;
    const offsets = zipfOffsets();
    this.cardinalities = KAGGLE_CARDINALITIES.map((k) => scaledCardinality(k, config.scale));
    this.samplers = this.cardinalities.map((k, f) => new ZipfSampler(k, ZIPF_EXPONENT, offsets[f]!));
    this.dense = INT_QUANTILES.map((q) => new DenseSampler(INT_QUANTILE_P, q));
    this.catMiss = Float64Array.from(CAT_MISSING_RATE);
    this.intMiss = Float64Array.from(INT_MISSING_RATE);
    this.catKeepInv = this.catMiss.map((m) => 1 / (1 - m));
    this.intKeepInv = this.intMiss.map((m) => 1 / (1 - m));
    this.pairA = Int32Array.from(INTERACTION_PAIRS.map((p) => p[0]));
    this.pairB = Int32Array.from(INTERACTION_PAIRS.map((p) => p[1]));
    this.sigma = new Float64Array(NC);
    this.missW = new Float64Array(NC);
    this.hexK0 = new Uint32Array(NC);
    this.hexK1 = new Uint32Array(NC);
    for (let f = 0; f < NC; f++) {
      this.sigma[f] = 0.3 + 0.7 * hashUnit(hash4(seed, SALT_SIGMA, f, 0));
      this.missW[f] = 0.5 * this.sigma[f]! * hashNormal(hash4(seed, SALT_MISSING, f, 0));
      this.hexK0[f] = hash4(seed, SALT_HEX, f, 0);
      this.hexK1[f] = hash4(seed, SALT_HEX, f, 1);
    }
    this.headW = this.samplers.map((s) => new Float32Array(s.headSize));
    this.fillWeights(0);
    this.denseW = [];
    this.denseMissW = new Float64Array(NI);
    for (let j = 0; j < NI; j++) {
      const d = this.dense[j]!;
      const mean = d.meanLog();
      const sd = d.sdLog() || 1;
      const coef = DENSE_SIGMA * hashNormal(hash4(seed, SALT_DENSE, j, 0));
      this.denseW.push(Float32Array.from(d.logs, (l) => (coef * (l - mean)) / sd));
      this.denseMissW[j] = (coef * (0 - mean)) / sd;
    }
    // Calibrate on rows from a stream of their own, at day 0.
    const rng = Rng.derive(seed, SALT_CALIBRATE);
    const raw = new Float64Array(CALIBRATION_ROWS);
    const cats = new Int32Array(NC);
    const ints = new Int32Array(NI);
    for (let i = 0; i < CALIBRATION_ROWS; i++) raw[i] = this.sampleRow(rng, cats, ints, 0, 0);
    raw.sort();
    const fit = fitBiasTemperature(raw, config.ctr, config.auc);
    this.bias = fit.bias;
    this.temperature = fit.temperature;
    this.calibrationAuc = fit.expectedAuc;
  }

  /** Number of rank epochs value `rank` of feature f has gone through by `day`. */
  epochOf(f: number, rank: number, day: number): number {
    if (this.config.drift <= 0 || rank >= DRIFT_POPULAR_RANKS) return 0;
    let e = 0;
    for (let t = 1; t <= day; t++) if (hashUnit(hash4(this.seed ^ SALT_DRIFT, f, rank, t)) < this.config.drift) e++;
    return e;
  }

  /**
   * Weight of value `rank` of feature f on `day` (rank -1 = missing), before τ.
   * Computed from the hash; the generator reads the same numbers from its tables.
   */
  catWeight(f: number, rank: number, day = this.day): number {
    if (rank < 0) return this.missW[f]!;
    const e = this.epochOf(f, rank, day);
    return this.sigma[f]! * decay(rank) * hashNormal(hash4(this.seedW, f, rank, e));
  }

  /** Switch the tabulated weights to `day` (drift re-draws some popular values' weights). */
  setDay(day: number): void {
    if (day !== this.day) this.fillWeights(day);
    this.day = day;
  }

  private fillWeights(day: number): void {
    for (let f = 0; f < NC; f++) {
      const w = this.headW[f]!;
      for (let r = 0; r < w.length; r++) w[r] = this.catWeight(f, r, day);
    }
  }

  /** The 32-bit id (written as 8 hex digits) of value `rank` of feature f. */
  hexId(f: number, rank: number): number {
    return permute32(rank, this.hexK0[f]!, this.hexK1[f]!);
  }

  /** Integer value of table entry `k` of integer feature j. */
  denseValue(j: number, k: number): number {
    return this.dense[j]!.values[k]!;
  }

  /**
   * Draw one row's features and return its raw logit (before bias and τ).
   * @param cats out: [.., off + 26) value ranks, -1 = missing
   * @param ints out: [.., intOff + 13) dense table indices, -1 = missing
   */
  sampleRow(rng: Rng, cats: Int32Array, ints: Int32Array, off: number, intOff: number): number {
    let raw = 0;
    // One draw decides "missing" and, rescaled to [0, 1), also picks the value.
    for (let f = 0; f < NC; f++) {
      const u = rng.float();
      const m = this.catMiss[f]!;
      if (u < m) {
        cats[off + f] = -1;
        raw += this.missW[f]!;
        continue;
      }
      const r = this.samplers[f]!.sampleFrom((u - m) * this.catKeepInv[f]!, rng);
      cats[off + f] = r;
      const w = this.headW[f]!;
      raw += r < w.length ? w[r]! : this.sigma[f]! * decay(r) * hashNormal(hash4(this.seedW, f, r, 0));
    }
    for (let j = 0; j < NI; j++) {
      const u = rng.float();
      const m = this.intMiss[j]!;
      if (u < m) {
        ints[intOff + j] = -1;
        raw += this.denseMissW[j]!;
        continue;
      }
      const k = this.dense[j]!.indexFrom((u - m) * this.intKeepInv[j]!);
      ints[intOff + j] = k;
      raw += this.denseW[j]![k]!;
    }
    for (let p = 0; p < this.pairA.length; p++) raw += this.pairWeight(p, cats[off + this.pairA[p]!]!, cats[off + this.pairB[p]!]!);
    return raw;
  }

  /**
   * Naive twin of {@link sampleRow}'s sum for given features: every weight from the
   * hash (no tables), on `day`. Tests check the generator's logits against it.
   */
  rawLogitOf(cats: Int32Array, ints: Int32Array, off: number, intOff: number, day: number): number {
    let raw = 0;
    for (let f = 0; f < NC; f++) raw += this.catWeight(f, cats[off + f]!, day);
    for (let j = 0; j < NI; j++) {
      const k = ints[intOff + j]!;
      raw += k < 0 ? this.denseMissW[j]! : this.denseW[j]![k]!;
    }
    for (let p = 0; p < this.pairA.length; p++) raw += this.pairWeight(p, cats[off + this.pairA[p]!]!, cats[off + this.pairB[p]!]!);
    return raw;
  }

  /** Interaction weight of pair p for value ranks a and b (-1 = missing), before τ. */
  pairWeight(p: number, a: number, b: number): number {
    const da = a < 0 ? 1 : decay(a);
    const db = b < 0 ? 1 : decay(b);
    return PAIR_SIGMA * da * db * hashNormal(hash4(this.seed ^ SALT_PAIR, p, a + 1, b + 1));
  }

  /** logit = bias + τ · raw. */
  logit(raw: number): number {
    return this.bias + this.temperature * raw;
  }
}
