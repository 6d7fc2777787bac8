/**
 * Progress for long stages. On a TTY a live line (done, rate, ETA) redraws at
 * most a few times a second; otherwise nothing until {@link Progress.done},
 * which prints one summary line. Output goes to stderr so stdout stays clean.
 */

export interface ProgressSink {
  isTTY: boolean;
  write(s: string): void;
}

const stderrSink: ProgressSink = {
  isTTY: Boolean(process.stderr.isTTY),
  write: (s) => process.stderr.write(s),
};

/** Where a stage reports progress (stderr by default; {@link quietSink} in tests). */
export interface StageIO {
  sink?: ProgressSink;
}

/** Silent sink for tests and child jobs. */
export const quietSink: ProgressSink = { isTTY: false, write: () => {} };

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

export function formatDuration(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  if (sec < 60) return `${sec.toFixed(1)}s`;
  const m = Math.floor(sec / 60);
  const s = Math.round(sec % 60);
  if (m < 60) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export class Progress {
  private readonly start = performance.now();
  private lastDraw = 0;
  private doneCount = 0;
  private extra = '';

  /**
   * @param label what is being counted, e.g. `preprocess`
   * @param unit unit name, e.g. `rows`
   * @param total expected total, for the ETA (0 = unknown)
   */
  constructor(
    readonly label: string,
    readonly unit: string,
    private total = 0,
    private readonly sink: ProgressSink = stderrSink,
  ) {}

  setTotal(total: number): void {
    this.total = total;
  }

  /** Report `n` units done so far (absolute), with optional extra text (e.g. `loss 0.45`). */
  update(n: number, extra = ''): void {
    this.doneCount = n;
    this.extra = extra;
    if (!this.sink.isTTY) return;
    const now = performance.now();
    if (now - this.lastDraw < 200) return;
    this.lastDraw = now;
    this.sink.write(`\r\x1b[2K${this.line()}`);
  }

  elapsedSec(): number {
    return (performance.now() - this.start) / 1000;
  }

  private line(): string {
    const sec = this.elapsedSec();
    const rate = sec > 0 ? this.doneCount / sec : 0;
    let s = `${this.label}: ${formatCount(this.doneCount)}`;
    if (this.total > 0) s += `/${formatCount(this.total)} ${this.unit} (${((100 * this.doneCount) / this.total).toFixed(1)}%)`;
    else s += ` ${this.unit}`;
    s += `, ${formatCount(rate)} ${this.unit}/s`;
    if (this.total > 0 && rate > 0) s += `, ETA ${formatDuration((this.total - this.doneCount) / rate)}`;
    if (this.extra) s += `, ${this.extra}`;
    return s;
  }

  /** Print the final summary line. */
  done(summary?: string): void {
    const sec = this.elapsedSec();
    const rate = sec > 0 ? this.doneCount / sec : 0;
    const text = summary ?? `${this.label}: ${formatCount(this.doneCount)} ${this.unit} in ${formatDuration(sec)} (${formatCount(rate)} ${this.unit}/s)`;
    if (this.sink.isTTY) this.sink.write(`\r\x1b[2K${text}\n`);
    else this.sink.write(`${text}\n`);
  }

  /** A plain message line that does not disturb the live line more than needed. */
  log(msg: string): void {
    if (this.sink.isTTY) this.sink.write(`\r\x1b[2K${msg}\n`);
    else this.sink.write(`${msg}\n`);
  }
}
