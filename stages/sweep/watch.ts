/**
 * A sweep a person can watch: one progress line per running job (batches, samples/s, ETA),
 * read from the status file each child trainer rewrites (pipeline/run-status.ts).
 *
 *     TTY       the block of job lines is redrawn in place every second; other lines
 *               (a job done, a stage finished) print above it
 *     not TTY   (CI, nohup, a pipe) the job lines are printed every `everySec` (10 s),
 *               prefixed `sweep: running`, so a long run never looks hung
 *
 * Colour (dim job ids on a TTY) is off when NO_COLOR is set (https://no-color.org).
 */
import { formatCount, formatDuration, type ProgressSink } from '../../pipeline/progress.js';
import { readStatus, type RunStatus } from '../../pipeline/run-status.js';

export interface WatchOptions {
  sink: ProgressSink;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** seconds between non-TTY reports; @default 10 */
  everySec?: number;
  /** clock in ms (tests); @default Date.now */
  now?: () => number;
  /** status reader (tests); @default readStatus */
  read?: (path: string) => RunStatus | null;
}

/** The live job lines of a running sweep. */
export class JobWatch {
  private readonly jobs = new Map<string, { status: string; since: number }>();
  private readonly sink: ProgressSink;
  private readonly color: boolean;
  private readonly everyMs: number;
  private readonly now: () => number;
  private readonly read: (path: string) => RunStatus | null;
  private drawn = 0;
  private lastReport: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(o: WatchOptions) {
    this.sink = o.sink;
    const env = o.env ?? process.env;
    this.color = o.sink.isTTY && !(env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '');
    this.everyMs = (o.everySec ?? 10) * 1000;
    this.now = o.now ?? Date.now;
    this.read = o.read ?? readStatus;
    this.lastReport = this.now();
  }

  /** Start the timer (1 s); {@link stop} ends it. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
  }

  /** A job started; its trainer writes `statusFile`. */
  add(id: string, statusFile: string): void {
    this.jobs.set(id, { status: statusFile, since: this.now() });
    this.redraw();
  }

  /** A job ended. */
  remove(id: string): void {
    this.jobs.delete(id);
    this.redraw();
  }

  /** A plain line (above the live block on a TTY). */
  log(line: string): void {
    this.clear();
    this.sink.write(`${line}\n`);
    this.redraw();
  }

  /** One line per running job, in start order. */
  lines(): string[] {
    const out: string[] = [];
    for (const [id, j] of this.jobs) {
      const s = this.read(j.status);
      const name = this.color ? `\x1b[2m${id}\x1b[22m` : id;
      if (!s) {
        out.push(`${name}: starting (${formatDuration((this.now() - j.since) / 1000)})`);
        continue;
      }
      const pct = s.total > 0 ? ` (${((100 * s.batches) / s.total).toFixed(0)}%)` : '';
      const eta = s.etaSec === null ? '' : `, ETA ${formatDuration(s.etaSec)}`;
      out.push(`${name}: ${s.batches}/${s.total} batches${pct}, ${formatCount(s.samplesPerSec)} samples/s${eta}`);
    }
    return out;
  }

  /** Redraw (TTY) or report every `everySec` (not a TTY). */
  tick(): void {
    if (this.sink.isTTY) {
      this.redraw();
      return;
    }
    const t = this.now();
    if (t - this.lastReport < this.everyMs || this.jobs.size === 0) return;
    this.lastReport = t;
    for (const l of this.lines()) this.sink.write(`sweep: running ${l}\n`);
  }

  private clear(): void {
    if (!this.sink.isTTY || this.drawn === 0) return;
    this.sink.write(`\x1b[${this.drawn}F\x1b[J`);
    this.drawn = 0;
  }

  private redraw(): void {
    if (!this.sink.isTTY) return;
    this.clear();
    const ls = this.lines();
    for (const l of ls) this.sink.write(`  ${l}\n`);
    this.drawn = ls.length;
  }
}
