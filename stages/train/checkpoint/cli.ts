/**
 * `hotcold checkpoint ls|verify|compact <dir>`: inspect and maintain the
 * checkpoint directory of a training run (`hotcold train --checkpoint-dir`).
 */
import type { Command } from 'commander';
import { action } from '../../../pipeline/cli.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { versionName } from './format.js';
import { compactCheckpoints, listCheckpoints, verifyCheckpoints } from './tools.js';

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** `C1:12 C2:0 ...`, shortened when there are many tables. */
function rowsText(rows: { name: string; stored: number }[]): string {
  const total = rows.reduce((s, r) => s + r.stored, 0);
  return `${total} rows [${rows.map((r) => `${r.name}:${r.stored}`).join(' ')}]`;
}

export function register(program: Command): void {
  const cmd = program.command('checkpoint').description('list, verify or compact a checkpoint directory (from `hotcold train --checkpoint-dir`)');

  cmd
    .command('ls')
    .description('list committed versions: kind, base/parent, rows stored per table, bytes, time')
    .argument('<dir>', 'checkpoint directory')
    .option('--json', 'print JSON instead of a table')
    .action(
      action((dir: string, opts: { json?: boolean }) => {
        const list = listCheckpoints(dir);
        if (opts.json) {
          process.stdout.write(JSON.stringify(list, null, 2) + '\n');
          return;
        }
        if (list.length === 0) {
          process.stdout.write(`no committed checkpoints in ${dir}\n`);
          return;
        }
        for (const v of list) {
          if (v.error) {
            process.stdout.write(`${versionName(v.version)}  DAMAGED  ${v.error}\n`);
            continue;
          }
          const link = v.kind === 'full' ? 'base' : `base ${versionName(v.base ?? 0)} parent ${versionName(v.parent ?? 0)}`;
          process.stdout.write(
            `${versionName(v.version)}  ${v.kind.padEnd(4)}  ${link.padEnd(28)}  ${mib(v.bytes).padStart(10)}  ${v.createdAt}  T=${v.threshold}  ${rowsText(v.rows)}\n`,
          );
        }
      }),
    );

  cmd
    .command('verify')
    .description('check every file against its manifest checksum; exits 1 naming each damaged file')
    .argument('<dir>', 'checkpoint directory')
    .action(
      action(async (dir: string) => {
        const rep = await verifyCheckpoints(dir);
        for (const v of rep.versions) {
          const state = v.problems.length === 0 ? 'ok' : 'BAD';
          process.stdout.write(`${versionName(v.version)}  ${state}\n`);
          for (const p of v.problems) process.stdout.write(`  ${p}\n`);
        }
        for (const f of rep.flats) {
          process.stdout.write(`${versionName(f.version)} flat  ${f.problems.length === 0 ? 'ok' : 'BAD'}\n`);
          for (const p of f.problems) process.stdout.write(`  ${p}\n`);
        }
        if (rep.leftovers.length > 0) {
          process.stdout.write(`uncommitted leftovers (removed on the next run): ${rep.leftovers.join(', ')}\n`);
        }
        if (!rep.ok) {
          const bad = [
            ...rep.versions.filter((v) => v.problems.length > 0).map((v) => versionName(v.version)),
            ...rep.flats.filter((f) => f.problems.length > 0).map((f) => `${versionName(f.version)} (flat increment)`),
          ];
          const good = rep.versions.filter((v) => v.restorable).map((v) => versionName(v.version));
          throw new PipelineError('checksum', `damaged checkpoint versions: ${bad.join(', ')}`, {
            file: dir,
            hint: good.length > 0 ? `--resume would use ${good[good.length - 1]}` : 'no version can be restored; train without --resume',
          });
        }
        process.stdout.write(`all ${rep.versions.length} versions verified\n`);
      }),
    );

  cmd
    .command('compact')
    .description('fold the newest valid chain (base + increments) into a new full base')
    .argument('<dir>', 'checkpoint directory')
    .option('--prune', 'delete every version older than the new base')
    .action(
      action((dir: string, opts: { prune?: boolean }) => {
        const r = compactCheckpoints(dir, { prune: opts.prune, log: (m) => process.stderr.write(`${m}\n`) });
        process.stdout.write(
          `compacted ${versionName(r.from)} into full ${versionName(r.saved.version)} (${mib(r.saved.bytes)}, ${r.saved.pauseSec.toFixed(2)} s)\n`,
        );
      }),
    );
}
