/**
 * Per-epoch records of a run (metrics.json `epochRecords`): what each epoch trained, its mean
 * loss, and the evaluation at its end when one ran. The running sums live in the checkpoint
 * position (JSON), so a resumed run reports the same records.
 */
import type { EpochRecord, EvalMetrics } from '../../pipeline/run-metrics.js';

/** Running sums of the current epoch (part of the checkpoint position). */
export interface EpochAcc {
  batches: number;
  samples: number;
  lossSum: number;
  lossN: number;
  trainSec: number;
}

export function newEpochAcc(): EpochAcc {
  return { batches: 0, samples: 0, lossSum: 0, lossN: 0, trainSec: 0 };
}

/** Add one training step. @param loss NaN when the batch was empty (all dropped) */
export function addStep(acc: EpochAcc, samples: number, loss: number, sec: number): void {
  acc.batches++;
  acc.samples += samples;
  acc.trainSec += sec;
  if (!Number.isNaN(loss)) {
    acc.lossSum += loss;
    acc.lossN++;
  }
}

/** Close the epoch: its record (evaluations trimmed to their metrics). */
export function epochRecord(epoch: number, acc: EpochAcc, val: EvalMetrics | null, test: EvalMetrics | null): EpochRecord {
  return {
    epoch, batches: acc.batches, samples: acc.samples, trainLoss: acc.lossN > 0 ? acc.lossSum / acc.lossN : NaN, trainSec: acc.trainSec,
    val: val ? trimEval(val) : null, test: test ? trimEval(test) : null,
  };
}

/** An evaluation's metrics without the position fields of an EvalPoint. */
export function trimEval(m: EvalMetrics): EvalMetrics {
  const out: EvalMetrics = { auc: m.auc, logloss: m.logloss, accuracy: m.accuracy, ne: m.ne, rows: m.rows };
  if (m.ap !== undefined) out.ap = m.ap;
  if (m.neSplitCtr !== undefined) out.neSplitCtr = m.neSplitCtr;
  if (m.ctr !== undefined) out.ctr = m.ctr;
  if (m.trainCtr !== undefined) out.trainCtr = m.trainCtr;
  return out;
}
