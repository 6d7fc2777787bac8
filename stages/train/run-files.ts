/**
 * The files of a run directory (pipeline/run-metrics.ts):
 *
 *     log.jsonl     one JSON object per line: {kind:'step'|'eval'|'info', ...}
 *     config.json   the resolved train config
 *     metrics.json  RunMetrics, written atomically at the end
 */
import { closeSync, existsSync, ftruncateSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync } from '../../pipeline/atomic.js';
import { LOG_FILE } from '../../pipeline/run-metrics.js';

export { CONFIG_FILE, LOG_FILE, METRICS_FILE } from '../../pipeline/run-metrics.js';

/** Append-only JSON-lines log; its byte length is part of a checkpoint's position. */
export class RunLog {
  private readonly fd: number;
  private closed = false;
  bytes: number;

  /**
   * @param truncateTo on resume: cut lines written after the checkpoint (undefined = start empty)
   */
  constructor(dir: string, truncateTo?: number) {
    const path = join(dir, LOG_FILE);
    if (truncateTo === undefined || !existsSync(path)) {
      this.fd = openSync(path, 'w');
      this.bytes = 0;
    } else {
      this.fd = openSync(path, 'r+');
      const size = statSync(path).size;
      this.bytes = Math.min(size, truncateTo);
      ftruncateSync(this.fd, this.bytes);
    }
  }

  write(kind: 'step' | 'eval' | 'info', fields: Record<string, unknown>): void {
    const buf = Buffer.from(JSON.stringify({ kind, ...fields }) + '\n');
    writeSync(this.fd, buf, 0, buf.length, this.bytes);
    this.bytes += buf.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/** Write a JSON file atomically (pretty-printed). */
export function writeJson(dir: string, name: string, value: unknown): void {
  writeFileAtomicSync(join(dir, name), JSON.stringify(value, null, 2) + '\n');
}
