/**
 * The cost model that turns counted work (pipeline/run-metrics.ts `RunWork`) into seconds:
 *
 *     modelled seconds = inputs drawn (trained + dropped) · inputRead
 *                      + denseFlops · flop + denseParamUpdates · paramUpdate
 *                      + cold rows gathered · rowGathered + cold rows updated · rowUpdated
 *                      + hot rows gathered · hotRowGathered + hot rows updated · hotRowUpdated
 *                      + (filterLookups + keyLookups + searchEvals) · filterLookup
 *                      + (snapshotBytes + deltaBytes + hot-sync bytes) · byteCopied
 *                      + accuracy-budgeted runs: the no-drop reference's work (its FLOPs,
 *                        parameter updates, rows, the state it copies) and the re-checks'
 *                        forward passes and lookups (RunWork.reference), unless left out
 *
 * Unit costs come from a short seeded calibration (`hotcold calibrate`, run inside every
 * sweep under the same load as its runs), so a run's *modelled time* is its work priced at
 * this machine's rates. {@link REFERENCE_COSTS} are one such calibration, frozen: pricing
 * work with them gives the *work speedup*, identical on every repeat.
 */
import type { RunWork } from './run-metrics.js';

/** Seconds per unit of work. */
export interface UnitCosts {
  /** per input drawn from a training stream (shard decode, shuffle, copy into the batch) */
  inputRead: number;
  /** per dense FLOP (GEMMs + interaction, forward and backward) */
  flop: number;
  /** per dense parameter updated by the optimizer */
  paramUpdate: number;
  /** per host-table row lookup gathered (duplicates included; host bookkeeping included) */
  rowGathered: number;
  /** per distinct host-table row updated (gradient accumulation + row-wise optimizer) */
  rowUpdated: number;
  /** the same on the device's hot table (small and cache-resident: cheaper on a CPU) */
  hotRowGathered: number;
  hotRowUpdated: number;
  /** per Slipstream Δ lookup (filter, drop keys, search comparisons) */
  filterLookup: number;
  /** per byte copied (snapshots, Δ reads, hot-row syncs) */
  byteCopied: number;
}

export const UNIT_NAMES: readonly (keyof UnitCosts)[] = ['inputRead', 'flop', 'paramUpdate', 'rowGathered', 'rowUpdated', 'hotRowGathered', 'hotRowUpdated', 'filterLookup', 'byteCopied'];

/**
 * A calibration frozen in the source (`hotcold calibrate --config configs/baseline-small.json`,
 * blas engine, 1 thread, Intel Xeon of the project machine, 2026-12-01). Only ratios of
 * totals priced with these are used (the work speedup), so their absolute scale does not matter.
 */
export const REFERENCE_COSTS: UnitCosts = {
  inputRead: 1e-7,
  flop: 2.5e-11,
  paramUpdate: 2.0e-9,
  rowGathered: 6.0e-9,
  rowUpdated: 1.6e-8,
  hotRowGathered: 3.0e-9,
  hotRowUpdated: 8.0e-9,
  filterLookup: 2.0e-9,
  byteCopied: 2.5e-10,
};

/** Pricing options: `reference: false` leaves an accuracy-budgeted run's reference and re-checks out. */
export interface PriceOptions {
  /** @default true */
  reference?: boolean;
}

/** Units of work per unit cost, in the order of {@link UNIT_NAMES}. */
export function workUnits(w: RunWork, hotSyncBytes = 0, o: PriceOptions = {}): Record<keyof UnitCosts, number> {
  const s = w.slipstream;
  const u = {
    inputRead: w.samplesTrained + w.samplesDropped,
    flop: w.denseFlops.total,
    paramUpdate: w.denseParamUpdates,
    rowGathered: w.embedding.rowsGathered - w.embedding.hotGathered,
    rowUpdated: w.embedding.rowsUpdated - w.embedding.hotUpdated,
    hotRowGathered: w.embedding.hotGathered,
    hotRowUpdated: w.embedding.hotUpdated,
    filterLookup: s ? s.filterLookups + s.keyLookups + s.searchEvals : 0,
    byteCopied: (s ? s.snapshotBytes + s.deltaBytes : 0) + hotSyncBytes,
  };
  const r = w.reference;
  if (r && o.reference !== false) {
    u.flop += r.denseFlops + r.recheckFlops;
    u.paramUpdate += r.denseParamUpdates;
    u.rowGathered += r.rowsGathered - r.hotGathered + r.recheckRows * 26; // evaluation gathers from the host tables
    u.rowUpdated += r.rowsUpdated - r.hotUpdated;
    u.hotRowGathered += r.hotGathered;
    u.hotRowUpdated += r.hotUpdated;
    u.byteCopied += r.copyBytes;
  }
  return u;
}

/** Work priced at `costs`: seconds the model expects the training steps to take. */
export function modelledSec(w: RunWork, costs: UnitCosts, hotSyncBytes = 0, o: PriceOptions = {}): number {
  const u = workUnits(w, hotSyncBytes, o);
  let t = 0;
  for (const k of UNIT_NAMES) t += u[k] * costs[k];
  return t;
}
