/**
 * Batch schedules of one epoch: which source each step draws from.
 *
 *     baseline     every step a train-split batch          (kind 0)
 *     fae phases   all cold batches, then all hot batches  (as the public FAE code)
 *     fae interleave  R rounds; round r = its share of cold batches, then its share of
 *                  hot ones (shares by floor((r+1)·n/R) − floor(r·n/R)), so hot and cold
 *                  stay in proportion across the epoch (the FAE paper's scheduler)
 *
 * Syncs are not in the schedule: the Device copies a dirty hot row only when a batch of the
 * other kind reads it (see device.ts).
 */
import type { TrainConfig } from '../config.js';

export const COLD = 0;
export const HOT = 1;

/**
 * Steps of one epoch (COLD / HOT per step).
 * @param nCold batches of the cold (or baseline train) stream per epoch
 * @param nHot batches of the hot stream per epoch (0 in baseline)
 */
export function epochSchedule(cfg: TrainConfig, nCold: number, nHot: number): Uint8Array {
  const steps = new Uint8Array(nCold + nHot);
  if (cfg.mode === 'baseline' || nHot === 0) return steps;
  if (cfg.fae.schedule === 'phases' || nCold === 0) {
    steps.fill(HOT, nCold);
    return steps;
  }
  const R = Math.max(1, Math.min(cfg.fae.rounds, nCold, nHot));
  let s = 0;
  for (let r = 0; r < R; r++) {
    const c = Math.floor(((r + 1) * nCold) / R) - Math.floor((r * nCold) / R);
    const h = Math.floor(((r + 1) * nHot) / R) - Math.floor((r * nHot) / R);
    s += c;
    steps.fill(HOT, s, s + h);
    s += h;
  }
  return steps;
}
