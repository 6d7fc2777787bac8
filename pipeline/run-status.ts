/**
 * A running train job's live status, for whoever watches it (the sweep's progress lines):
 * the trainer rewrites a small JSON file at most once a second when `HOTCOLD_STATUS_FILE`
 * names one; the sweep reads it. Stages meet here, never directly.
 *
 *     {"batches": 120, "total": 700, "samples": 245760, "samplesPerSec": 41000, "etaSec": 14.1, "at": 1764…}
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

/** Environment variable naming the status file of a child train job. */
export const STATUS_ENV = 'HOTCOLD_STATUS_FILE';

/** Contents of the status file. */
export interface RunStatus {
  /** batches (schedule steps) done, and the run's total */
  batches: number;
  total: number;
  samples: number;
  samplesPerSec: number;
  /** seconds left at the current rate (null when unknown) */
  etaSec: number | null;
  /** Date.now() of the write */
  at: number;
}

/** Writes the status file (plain rename, no fsync: it is advisory), throttled. */
export class StatusWriter {
  private last = 0;
  constructor(readonly path: string, private readonly everyMs = 1000) {}

  /** From the environment, or null when no status file is asked for. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): StatusWriter | null {
    const p = env[STATUS_ENV];
    return p ? new StatusWriter(p) : null;
  }

  /** @param elapsedSec wall seconds the batches took (for the rate and the ETA) */
  update(batches: number, total: number, samples: number, elapsedSec: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.last < this.everyMs) return;
    this.last = now;
    const rate = elapsedSec > 0 ? batches / elapsedSec : 0;
    const s: RunStatus = {
      batches, total, samples, samplesPerSec: elapsedSec > 0 ? samples / elapsedSec : 0,
      etaSec: rate > 0 && total > 0 ? (total - batches) / rate : null, at: now,
    };
    try {
      writeFileSync(`${this.path}.tmp`, JSON.stringify(s));
      renameSync(`${this.path}.tmp`, this.path);
    } catch {
      // advisory only: a watcher that cannot see progress must not fail the run
    }
  }
}

/** Read a status file; null when absent or half-written. */
export function readStatus(path: string): RunStatus | null {
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as RunStatus;
    return typeof s.batches === 'number' ? s : null;
  } catch {
    return null;
  }
}
