/** Options of `hotcold segregate`, their defaults and their checks. */
import { badConfig } from '../../pipeline/errors.js';

export interface SegregateConfig {
  /** preprocessed dataset directory */
  data: string;
  /** profile directory (`hotcold profile --out`), made from the same data */
  profile: string;
  /** output directory */
  out: string;
  /** embedding dimension: one hot row takes 4 · dim bytes; @default 16 */
  dim: number;
  /** hot-table memory budget in bytes (FAE `hot_emb_gpu_mem`); exclusive with hotMinCount; @default 256 MiB when neither is given */
  hotMem?: number;
  /** count threshold Λ: a row is hot iff its sampled count ≥ Λ; exclusive with hotMem */
  hotMinCount?: number;
  /** let rows never seen in the profile be hot (to fill the budget, or with Λ = 0); @default false */
  allowZeroCount?: boolean;
  /** rows per output shard; @default the data's `rowsPerShard` */
  rowsPerShard?: number;
  /** rewrite even when an output with the same fingerprint exists; @default false */
  force?: boolean;
  /** replace an --out directory that holds something other than this stage's output */
  forceClean?: boolean;
}

export const SEGREGATE_DEFAULTS = {
  /** DLRM Kaggle reference embedding dimension */
  dim: 16,
  /** FAE's default `hot_emb_gpu_mem` */
  hotMem: 256 * 1024 * 1024,
} as const;

/** How the hot set is chosen, as recorded in the manifest. */
export type Selection = { by: 'memory'; budgetBytes: number } | { by: 'count'; minCount: number };

/** Bytes of one hot row: dim Float32 values. */
export function rowBytes(dim: number): number {
  return 4 * dim;
}

/** Rows a memory budget holds: floor(budget / (4 · dim)). */
export function budgetRows(budgetBytes: number, dim: number): number {
  return Math.floor(budgetBytes / rowBytes(dim));
}

/**
 * Check a segregate config and resolve the selection rule.
 * @throws PipelineError `bad_config` for a bad dim, both hotMem and hotMinCount,
 *   a budget smaller than one row, or Λ = 0 without allowZeroCount.
 */
export function checkSegregateConfig(c: SegregateConfig): Selection {
  if (!c.data) throw badConfig('--data', 'is required');
  if (!c.profile) throw badConfig('--profile', 'is required');
  if (!c.out) throw badConfig('--out', 'is required');
  if (!Number.isInteger(c.dim) || c.dim < 1) throw badConfig('--dim', `must be a positive integer, got ${String(c.dim)}`);
  if (c.rowsPerShard !== undefined && (!Number.isInteger(c.rowsPerShard) || c.rowsPerShard < 1)) {
    throw badConfig('--rows-per-shard', `must be a positive integer, got ${String(c.rowsPerShard)}`);
  }
  const hasMem = c.hotMem !== undefined;
  const hasMin = c.hotMinCount !== undefined;
  if (hasMem && hasMin) {
    throw badConfig('--hot-mem', 'give one of --hot-mem (a memory budget) or --hot-min-count (a count threshold), not both');
  }
  if (!hasMin) {
    const b = c.hotMem ?? SEGREGATE_DEFAULTS.hotMem;
    if (!Number.isFinite(b) || b < rowBytes(c.dim)) {
      throw badConfig(
        '--hot-mem',
        `budget of ${String(b)} bytes holds no row: one row of dim ${c.dim} takes ${rowBytes(c.dim)} bytes`,
        `use at least --hot-mem ${rowBytes(c.dim)}`,
      );
    }
    return { by: 'memory', budgetBytes: Math.floor(b) };
  }
  const n = c.hotMinCount!;
  if (!Number.isInteger(n) || n < 0) throw badConfig('--hot-min-count', `must be a non-negative integer, got ${String(n)}`);
  if (n === 0 && !c.allowZeroCount) {
    throw badConfig('--hot-min-count', '0 would make every row hot, including rows never accessed', 'pass --allow-zero-count if that is intended');
  }
  return { by: 'count', minCount: n };
}
