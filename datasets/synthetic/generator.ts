/**
 * Streaming synthetic Criteo generator: rows are drawn block by block into flat
 * typed arrays ({@link RowBlock}), then formatted as Criteo Kaggle TSV
 * (`label \t I1..I13 \t C1..C26 \n`, empty = missing, C as 8 lowercase hex digits)
 * into a fresh Buffer per block with hand-written integer and hex formatting.
 * Nothing holds more than one block of text; same options → same bytes.
 *
 * Example::
 *
 *   for (const chunk of generateRows({ rows: 1000, seed: 7 })) process.stdout.write(chunk);
 */
import { Rng } from '../../pipeline/rng.js';
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../criteo/constants.js';
import { dayStarts, resolveOptions, type GenerateOptions, type ResolvedGenerateOptions } from './options.js';
import { PlantedModel } from './planted.js';
import { GenerateStats, type RowBlock } from './stats.js';
import { FORMAT_SLACK, MAX_ROW_BYTES, TsvFormatter } from './format.js';

// Local copies: module bindings read in hot loops can cost a getter call each.
const NC = CAT_FEATURE_COUNT;
const NI = INT_FEATURE_COUNT;

/** Rows per block (a block never crosses a day boundary). */
export const BLOCK_ROWS = 4096;
/** Bytes that always hold one formatted block. */
export const BLOCK_BYTES = BLOCK_ROWS * MAX_ROW_BYTES + FORMAT_SLACK;
const SALT_ROWS = 0x60705;

export class SyntheticGenerator {
  readonly options: ResolvedGenerateOptions;
  readonly model: PlantedModel;
  /** Measurements of the rows generated so far (null when built with `measure: false`). */
  readonly stats: GenerateStats | null;
  /** The block most recently filled by {@link nextBlock}; reused between calls. */
  readonly block: RowBlock;
  /** First row of each day plus the total (length days + 1). */
  readonly dayStarts: number[];
  private readonly rng: Rng;
  private readonly formatter: TsvFormatter;
  private row = 0;
  private day = 0;

  /**
   * @param opts generator options (validated; `bad_config` on a bad value)
   * @param measure keep the statistics and Bayes metrics (8 bytes per row for the exact AUC)
   */
  constructor(opts: GenerateOptions, measure = true) {
    this.options = resolveOptions(opts);
    const o = this.options;
    this.model = new PlantedModel({ seed: o.seed, scale: o.scale, drift: o.drift, ctr: o.ctr, auc: o.auc });
    this.dayStarts = dayStarts(o.rows, o.days);
    this.stats = measure ? new GenerateStats(o.rows, this.dayStarts, this.model.cardinalities) : null;
    this.rng = Rng.derive(o.seed, SALT_ROWS);
    this.formatter = new TsvFormatter(this.model);
    this.block = {
      n: 0,
      firstRow: 0,
      day: 0,
      label: new Uint8Array(BLOCK_ROWS),
      cats: new Int32Array(BLOCK_ROWS * NC),
      ints: new Int32Array(BLOCK_ROWS * NI),
      logit: new Float64Array(BLOCK_ROWS),
    };
  }

  /** Rows generated so far. */
  get rowsDone(): number {
    return this.row;
  }

  /** Fill {@link block} with the next rows (≤ BLOCK_ROWS, within one day); null when done. */
  nextBlock(): RowBlock | null {
    const total = this.options.rows;
    if (this.row >= total) return null;
    while (this.row >= this.dayStarts[this.day + 1]!) this.day++;
    this.model.setDay(this.day);
    const b = this.block;
    const n = Math.min(BLOCK_ROWS, this.dayStarts[this.day + 1]! - this.row);
    const m = this.model;
    const rng = this.rng;
    for (let i = 0; i < n; i++) {
      const raw = m.sampleRow(rng, b.cats, b.ints, i * NC, i * NI);
      const z = m.logit(raw);
      b.logit[i] = z;
      b.label[i] = rng.float() * (1 + Math.exp(-z)) < 1 ? 1 : 0; // u < σ(z)
    }
    b.n = n;
    b.firstRow = this.row;
    b.day = this.day;
    this.row += n;
    this.stats?.add(b);
    return b;
  }

  /**
   * Format a block as TSV text.
   * @param out buffer of at least {@link BLOCK_BYTES} to write into; a fresh one when absent
   * @returns the bytes written (a view of `out`)
   */
  formatBlock(b: RowBlock, out?: Buffer): Buffer {
    const buf = out ?? Buffer.allocUnsafe(b.n * MAX_ROW_BYTES + FORMAT_SLACK);
    return buf.subarray(0, this.formatter.format(b, buf));
  }

  /** Generate all remaining rows as TSV chunks (one Buffer per block). */
  *chunks(): Generator<Buffer> {
    for (let b = this.nextBlock(); b; b = this.nextBlock()) yield this.formatBlock(b);
  }
}

/**
 * Stream the TSV text of a synthetic data set, one Buffer of up to BLOCK_ROWS rows
 * at a time, without the statistics (for benches and tests that only need rows).
 */
export function* generateRows(opts: GenerateOptions): Generator<Buffer> {
  yield* new SyntheticGenerator(opts, false).chunks();
}
