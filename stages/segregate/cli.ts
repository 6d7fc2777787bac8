/** `hotcold segregate` subcommand. */
import type { Command } from 'commander';
import { action, intArg } from '../../pipeline/cli.js';
import { parseBytes } from '../../pipeline/config.js';
import { SEGREGATE_DEFAULTS } from './config.js';

/** The stage, loaded only when the command runs (keeps `hotcold --help` fast). */
const run: typeof import('./index.js').run = async (...a) => (await import('./index.js')).run(...a);

interface SegregateOpts {
  data: string;
  profile: string;
  out: string;
  hotMem?: string;
  hotMinCount?: number;
  dim: number;
  allowZeroCount?: boolean;
  rowsPerShard?: number;
  force?: boolean;
  forceClean?: boolean;
}

export function register(program: Command): void {
  program
    .command('segregate')
    .description('choose the hot embedding rows from a profile and split the training inputs into hot and cold shards (FAE)')
    .requiredOption('--data <dir>', 'preprocessed dataset directory')
    .requiredOption('--profile <dir>', 'profile directory made from the same data (hotcold profile)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--hot-mem <bytes>', 'hot-table memory budget, e.g. 256MiB (rows = budget / (4·dim), ranked jointly by count; default 256MiB unless --hot-min-count)')
    .option('--hot-min-count <n>', 'count threshold Λ: rows with a sampled count ≥ n are hot', intArg('--hot-min-count', 0))
    .option('--dim <d>', 'embedding dimension', intArg('--dim', 1), SEGREGATE_DEFAULTS.dim)
    .option('--allow-zero-count', 'let rows never seen in the profile be hot')
    .option('--rows-per-shard <n>', "rows per output shard (default: the data's)", intArg('--rows-per-shard', 1))
    .option('--force', 'recompute even when an identical output exists')
    .option('--force-clean', 'replace an --out directory that holds files not written by this stage (never /, home, the checkout or a directory holding an input)')
    .action(
      action(async (o: SegregateOpts) => {
        const m = await run({
          data: o.data,
          profile: o.profile,
          out: o.out,
          dim: o.dim,
          hotMem: o.hotMem === undefined ? undefined : parseBytes(o.hotMem, '--hot-mem'),
          hotMinCount: o.hotMinCount,
          allowZeroCount: o.allowZeroCount,
          rowsPerShard: o.rowsPerShard,
          force: o.force,
          forceClean: o.forceClean,
        });
        const r = m.report;
        process.stdout.write(
          `segregate: ${r.hotRows} hot rows (${(r.hotTableBytes / 2 ** 20).toFixed(2)} MiB), ` +
            `${r.hotInputs} hot / ${r.coldInputs} cold inputs (${(100 * r.hotInputShare).toFixed(2)} % hot), ` +
            `${(100 * r.hotLookupShare).toFixed(2)} % of lookups hit the hot set\n`,
        );
      }),
    );
}
