/** `hotcold export-shards`: a preprocessed dataset's shards as Parquet files. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { SplitName } from '../../datasets/preprocessed.js';
import { action } from '../../pipeline/cli.js';
import type { ShardFormat } from './index.js';

const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

/** Register `hotcold export-shards`. */
export function register(program: Command): void {
  program
    .command('export-shards')
    .description('write a preprocessed dataset\'s shards as Parquet (label INT32, I* FLOAT, C* INT32 row ids), one file per shard')
    .requiredOption('--data <dir>', 'preprocessed dataset (output of `hotcold preprocess`)')
    .requiredOption('--out <dir>', 'output directory')
    .option('--format <f>', 'parquet', (v: string) => {
      if (v !== 'parquet') throw new InvalidArgumentError(`--format must be parquet, got '${v}'`);
      return v as ShardFormat;
    }, 'parquet')
    .option('--split <names>', 'comma-separated splits (default train,val,test)', (v: string) => {
      const s = v.split(',').map((x) => x.trim());
      for (const x of s) if (!SPLITS.includes(x as SplitName)) throw new InvalidArgumentError(`--split: '${x}' is not one of ${SPLITS.join(', ')}`);
      return s as SplitName[];
    })
    .option('--force-clean', 'replace an --out directory that holds files not written by hotcold export-shards (never /, home, the checkout or a directory holding an input)')
    .action(
      action(async (o: { data: string; out: string; format: ShardFormat; split?: SplitName[]; forceClean?: boolean }) => {
        const m = await (await import('./index.js')).runExportShards({ data: o.data, out: o.out, format: o.format, splits: o.split, forceClean: o.forceClean });
        const rows = Object.entries(m.splits).map(([k, v]) => `${k} ${v.rows}`).join(', ');
        process.stdout.write(`export-shards: ${m.files.length} Parquet files (${rows} rows) → ${o.out}\n`);
      }),
    );
}
