/**
 * Fit the planted model's bias b and temperature τ (logit = b + τ·raw) so that a
 * sample of raw logits has a target mean click probability (CTR) and a target
 * expected Bayes AUC. Pure functions over a sorted Float64Array.
 */

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Bias b such that mean σ(b + τ·raw) = ctr (Newton from the logit of the CTR).
 * @param raw raw logits (any order)
 * @param temperature τ ≥ 0
 * @param ctr target mean probability in (0, 1)
 * @param start first guess (e.g. the bias fitted at a nearby τ); the logit of the CTR shifted by the mean when absent
 */
export function fitBias(raw: Float64Array, temperature: number, ctr: number, start?: number): number {
  const n = raw.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += raw[i]!;
  mean /= n;
  let b = start ?? Math.log(ctr / (1 - ctr)) - temperature * mean;
  for (let it = 0; it < 30; it++) {
    let f = 0;
    let df = 0;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(b + temperature * raw[i]!);
      f += p;
      df += p * (1 - p);
    }
    f = f / n - ctr;
    df /= n;
    if (df < 1e-12) break;
    const step = Math.max(-2, Math.min(2, f / df));
    b -= step;
    if (Math.abs(step) < 1e-9) break;
  }
  return b;
}

/**
 * Expected AUC of the scores `raw` when each row's label is Bernoulli(σ(b + τ·raw)):
 * E[correctly ordered positive/negative pairs] / E[positive/negative pairs].
 * @param sortedRaw raw logits sorted ascending
 */
export function expectedAuc(sortedRaw: Float64Array, bias: number, temperature: number): number {
  const n = sortedRaw.length;
  let cumNeg = 0;
  let good = 0;
  let sumP = 0;
  let sumPQ = 0;
  let i = 0;
  while (i < n) {
    // a run of equal scores: pairs inside it count one half
    let j = i;
    let runP = 0;
    let runN = 0;
    let runPQ = 0;
    const v = sortedRaw[i]!;
    while (j < n && sortedRaw[j] === v) {
      const p = sigmoid(bias + temperature * sortedRaw[j]!);
      runP += p;
      runN += 1 - p;
      runPQ += p * (1 - p);
      j++;
    }
    good += runP * cumNeg + 0.5 * (runP * runN - runPQ);
    cumNeg += runN;
    sumP += runP;
    sumPQ += runPQ;
    i = j;
  }
  const pairs = sumP * cumNeg - sumPQ;
  return pairs > 0 ? good / pairs : 0.5;
}

/**
 * Temperature and bias for a target CTR and expected AUC (bisection on τ, which
 * moves the AUC monotonically away from 0.5; τ is capped at 50).
 * @param sortedRaw raw logits sorted ascending
 */
export function fitBiasTemperature(
  sortedRaw: Float64Array,
  ctr: number,
  auc: number,
): { bias: number; temperature: number; expectedAuc: number } {
  let lo = 0;
  let hi = 50;
  let b: number | undefined;
  for (let it = 0; it < 40; it++) {
    const mid = (lo + hi) / 2;
    b = fitBias(sortedRaw, mid, ctr, b);
    if (expectedAuc(sortedRaw, b, mid) < auc) lo = mid;
    else hi = mid;
    if (hi - lo < 5e-4) break;
  }
  const temperature = (lo + hi) / 2;
  const bias = fitBias(sortedRaw, temperature, ctr, b);
  return { bias, temperature, expectedAuc: expectedAuc(sortedRaw, bias, temperature) };
}
