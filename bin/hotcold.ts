/**
 * hotcold command line: the roof over the stages. Each stage registers its own
 * subcommand from `stages/<name>/cli.ts`; this file only assembles them.
 */
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { commands } from './commands.js';
import { EXIT_USAGE } from '../pipeline/cli.js';
import { exitWithParent } from '../pipeline/parent-watch.js';
import { packagePath } from '../pipeline/package-root.js';

const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
  version: string;
};

const program = new Command();
program
  .name('hotcold')
  .description(
    'Hot/cold embedding training for DLRM-style recommenders:\n' +
      'preprocess Criteo → profile → segregate (FAE) → train baseline | fae | slipstream → sweep & report.',
  )
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  .configureHelp({ sortSubcommands: false })
  // usage errors (unknown option, bad option value) exit 2, like bad_config errors; help/version exit 0
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT_USAGE));

exitWithParent();
for (const register of commands) register(program);

await program.parseAsync(process.argv);
