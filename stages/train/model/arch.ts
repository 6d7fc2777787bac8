/**
 * DLRM architecture strings → {@link DlrmShape}, with the checks that make a bad config
 * fail before any allocation.
 *
 *     parseArch('13-512-256-64-16', '512-256-1', 16)      top input derived: 16 + 351 = 367
 *     parseArch('13-512-256-64-16', '367-512-256-1', 16)  same shape (explicit input width)
 */
import { badConfig } from '../../../pipeline/errors.js';
import { CAT_FEATURE_COUNT, INT_FEATURE_COUNT } from '../../../datasets/criteo/constants.js';
import { interactionWidth } from './interaction.js';

/** Layer widths of a DLRM. */
export interface DlrmShape {
  /** embedding dimension d (= bottom MLP output width) */
  dim: number;
  /** number of embedding tables F (26 for Criteo) */
  numTables: number;
  /** bottom MLP widths [13, …, dim] */
  bot: number[];
  /** top MLP widths [d + C(F+1,2), …, 1] */
  top: number[];
}

function parseWidths(spec: string | readonly number[], field: string): number[] {
  const parts = typeof spec === 'string' ? spec.split('-').map((s) => s.trim()) : spec.map(String);
  const out: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (p === '' || !Number.isInteger(n) || n < 1) {
      throw badConfig(field, `'${typeof spec === 'string' ? spec : spec.join('-')}' is not a list of positive integers joined by '-'`,
        "write layer widths like '13-512-256-64-16'");
    }
    out.push(n);
  }
  return out;
}

/**
 * Parse DLRM's `--arch-mlp-bot` / `--arch-mlp-top` spellings. The top MLP's input width is
 * derived (d + C(F+1, 2)); when the first top width already equals it, it is taken as the input.
 * @throws PipelineError('bad_config') naming model.mlpBot / model.mlpTop / model.dim
 */
export function parseArch(
  mlpBot: string | readonly number[], mlpTop: string | readonly number[], dim: number,
  numTables: number = CAT_FEATURE_COUNT,
): DlrmShape {
  if (!Number.isInteger(dim) || dim < 1) throw badConfig('model.dim', `${dim} is not a positive integer`);
  if (!Number.isInteger(numTables) || numTables < 1) throw badConfig('model.numTables', `${numTables} is not a positive integer`);
  const bot = parseWidths(mlpBot, 'model.mlpBot');
  const topIn = interactionWidth(dim, numTables);
  const given = parseWidths(mlpTop, 'model.mlpTop');
  const top = given[0] === topIn && given.length >= 2 ? given : [topIn, ...given];
  const shape: DlrmShape = { dim, numTables, bot, top };
  validateShape(shape);
  return shape;
}

/** Check widths agree with each other; throws PipelineError('bad_config'). */
export function validateShape(s: DlrmShape): void {
  const { bot, top, dim, numTables } = s;
  if (bot.length < 2) throw badConfig('model.mlpBot', `needs at least an input and an output width, got '${bot.join('-')}'`);
  if (bot[0] !== INT_FEATURE_COUNT) {
    throw badConfig('model.mlpBot', `input width ${bot[0]} must be ${INT_FEATURE_COUNT} (dense features I1..I${INT_FEATURE_COUNT})`,
      `start the bottom MLP with ${INT_FEATURE_COUNT}, e.g. '${INT_FEATURE_COUNT}-512-256-64-${dim}'`);
  }
  if (bot[bot.length - 1] !== dim) {
    throw badConfig('model.mlpBot', `output width ${bot[bot.length - 1]} must equal the embedding dim ${dim}`,
      'the bottom output is one of the interaction vectors, so it must have width model.dim');
  }
  const topIn = interactionWidth(dim, numTables);
  if (top.length < 2) throw badConfig('model.mlpTop', `needs at least one layer, got '${top.join('-')}'`);
  if (top[0] !== topIn) {
    throw badConfig('model.mlpTop', `input width ${top[0]} must be ${topIn} (= dim ${dim} + ${topIn - dim} interaction pairs)`,
      'write the top MLP without its input width (e.g. 512-256-1) to have it derived');
  }
  if (top[top.length - 1] !== 1) {
    throw badConfig('model.mlpTop', `last width ${top[top.length - 1]} must be 1 (one logit per sample)`);
  }
}
