/** `hotcold profile` subcommand. */
import type { Command } from 'commander';
import { action, floatArg, intArg } from '../../pipeline/cli.js';
import { PROFILE_DEFAULTS } from './config.js';

/** The stage, loaded only when the command runs (keeps `hotcold --help` fast). */
const run: typeof import('./index.js').run = async (...a) => (await import('./index.js')).run(...a);

interface ProfileOpts {
  data: string;
  out: string;
  sampleRate: number;
  seed: number;
  force?: boolean;
  forceClean?: boolean;
}

export function register(program: Command): void {
  program
    .command('profile')
    .description('count embedding-row accesses on a seeded sample of the training split (FAE profiler)')
    .requiredOption('--data <dir>', 'preprocessed dataset directory')
    .requiredOption('--out <dir>', 'output directory of the profile')
    .option('--sample-rate <r>', 'probability that a training input is sampled, in (0, 1]', floatArg('--sample-rate', 0, 1, true), PROFILE_DEFAULTS.sampleRate)
    .option('--seed <s>', 'seed of the sample', intArg('--seed'), PROFILE_DEFAULTS.seed)
    .option('--force', 'recompute even when an identical profile exists')
    .option('--force-clean', 'replace an --out directory that holds files not written by this stage (never /, home, the checkout or a directory holding an input)')
    .action(
      action(async (o: ProfileOpts) => {
        const m = await run({ data: o.data, out: o.out, sampleRate: o.sampleRate, seed: o.seed, force: o.force, forceClean: o.forceClean });
        const nz = m.nonzeroRows.reduce((a, b) => a + b, 0);
        const rows = m.tableSizes.reduce((a, b) => a + b, 0);
        process.stdout.write(
          `profile: ${m.sampledRows} of ${m.trainRows} training inputs sampled; ${nz} of ${rows} rows accessed (${((100 * nz) / rows).toFixed(2)} %)\n`,
        );
      }),
    );
}
