/** `hotcold store init|stats|dump|drop`: a run's cold tables in Redis. */
import type { Command } from 'commander';
import { action, collect, intArg } from '../../../pipeline/cli.js';
import { PipelineError } from '../../../pipeline/errors.js';

/** The store tools (ioredis, the train config) load only inside the commands. */
const tools = (): Promise<typeof import('./tools.js')> => import('./tools.js');

interface Target {
  coldStore: string;
  prefix?: string;
  out?: string;
}

const target = (c: Command): Command =>
  c
    .requiredOption('--cold-store <addr>', 'redis://host:port or redis-cluster://h:p,h:p,… (?prefix=P)')
    .option('--prefix <p>', 'key prefix of the run\'s tables (default: the one `hotcold train --out <dir>` uses, with --out)')
    .option('--out <dir>', 'the run directory whose default prefix to use');

function mib(b: number): string {
  return `${(b / 2 ** 20).toFixed(1)} MiB`;
}

export function register(program: Command): void {
  const cmd = program.command('store').description('init, inspect, dump or drop a run\'s cold embedding tables in Redis; scrub or rebuild a parity store (`hotcold train --cold-store`)');

  target(cmd.command('init').description('create a run\'s store: fingerprint and table seeds (rows are written lazily; an unwritten row reads as the value `hotcold train` starts from)'))
    .option('--config <file>', 'train config JSON')
    .requiredOption('--data <dir>', 'preprocessed dataset')
    .option('--hot <dir>', 'segregated dataset (fae / slipstream)')
    .option('--set <key=value>', 'override a config key (repeatable)', collect, [])
    .action(action(async (o: Target & { config?: string; data: string; hot?: string; set: string[] }) => {
      const [{ loadTrainConfig }, { storeInit }] = await Promise.all([import('../config.js'), tools()]);
      const cfg = loadTrainConfig(o.config, o.set);
      const r = await storeInit(o.coldStore, o.prefix, cfg, o.data, o.hot, o.out);
      process.stdout.write(`store init: ${r.rows} rows under prefix '${r.prefix}' in ${r.sec.toFixed(1)}s\n`);
    }));

  target(cmd.command('stats').description('rows, bytes, keys per node and keyspace hit rates'))
    .option('--json', 'print JSON')
    .action(action(async (o: Target & { json?: boolean }) => {
      const { storeStats } = await tools();
      const s = await storeStats(o.coldStore, o.prefix, o.out);
      if (o.json) {
        process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        return;
      }
      const m = s.meta;
      process.stdout.write(m
        ? `store ${s.address} prefix '${s.prefix}': ${s.rows} rows in ${m.sizes.length} tables, dim ${m.dim} (${m.optimizer}), ${mib(s.bytes)}, fingerprint ${m.fingerprint}${m.complete ? '' : ' (init not complete)'}\n`
        : `store ${s.address} prefix '${s.prefix}': no tables\n`);
      for (const n of s.nodes) {
        process.stdout.write(`  ${n.node}: ${n.keys} keys, ${mib(n.bytes)} of rows, used_memory ${mib(n.usedMemory)}, keyspace hit rate ${(100 * n.hitRate).toFixed(1)}% (${n.keyspaceHits} hits, ${n.keyspaceMisses} misses)\n`);
      }
    }));

  target(cmd.command('dump').description('rows of one table as JSON lines'))
    .requiredOption('--table <n>', 'table number, 1…26 (C1…C26)', intArg('--table', 1))
    .option('--rows <a-b>', 'row range, e.g. 0-9 (default 0-9)', '0-9')
    .action(action(async (o: Target & { table: number; rows: string }) => {
      const m = /^(\d+)-(\d+)$/.exec(o.rows);
      if (!m) throw new PipelineError('bad_config', `--rows '${o.rows}' is not a-b`, { field: '--rows' });
      const { storeDump } = await tools();
      for (const r of await storeDump(o.coldStore, o.table - 1, Number(m[1]), Number(m[2]) + 1, o.prefix, o.out, (s) => process.stderr.write(`${s}\n`))) process.stdout.write(JSON.stringify(r) + '\n');
    }));

  target(cmd.command('drop').description('delete every key under the run\'s prefix (nothing else)'))
    .action(action(async (o: Target) => {
      const { storeDrop } = await tools();
      const r = await storeDrop(o.coldStore, o.prefix, o.out);
      process.stdout.write(`store drop: ${r.keys} keys under prefix '${r.prefix}' deleted\n`);
    }));

  registerParity(cmd);
}

/** `hotcold store scrub|rebuild`: the parity store (redis-parity://…, parity/tools.ts). */
function registerParity(cmd: Command): void {
  const parity = (): Promise<typeof import('./parity/tools.js')> => import('./parity/tools.js');
  target(cmd.command('scrub').description('parity store: check every stripe\'s parity against its data, list rows that disagree and intents a dead trainer left (--repair: re-encode them)'))
    .option('--repair', 're-encode the parity of the stripes named by intents or found wrong, from the data')
    .option('--json', 'print JSON')
    .action(action(async (o: Target & { repair?: boolean; json?: boolean }) => {
      const r = await (await parity()).storeScrub(o.coldStore, { prefix: o.prefix, out: o.out, repair: o.repair });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      } else {
        if (r.trainer) process.stdout.write(`store scrub: a trainer is running on this store (${r.trainer}): a mismatch may be one of its updates in flight\n`);
        process.stdout.write(`store scrub: ${r.stripes} stripes, ${r.unchecked} not checked (a node down${r.down.length > 0 ? `: ${r.down.join(', ')}` : ''}), ${r.mismatches.length} parity rows disagree with their data, ${r.intents.length} intents${o.repair ? `, ${r.repaired} stripes re-encoded` : ''}\n`);
        for (const m of r.mismatches.slice(0, 50)) process.stdout.write(`  C${m.table} stripe ${m.stripe} offset ${m.offset}, parity node ${m.parityNode}: one of rows ${m.rows.join(', ')} (or the parity row) is corrupted\n`);
        if (r.mismatches.length > 50) process.stdout.write(`  … ${r.mismatches.length - 50} more (--json lists all)\n`);
        for (const i of r.intents) process.stdout.write(`  intent ${i.key}: ${i.rows.length} rows of an update in flight when its trainer stopped\n`);
      }
      if (r.mismatches.length > 0 && !o.repair) process.exitCode = 1;
    }));
  target(cmd.command('rebuild').description('parity store: reconstruct a node\'s rows onto a replacement — offline, or, while a trainer runs on the store, by that trainer in the background (this command asks it and waits)'))
    .requiredOption('--node <n>', 'the node: its index in the address list (0-based, data nodes first) or its host:port')
    .option('--to <host:port>', 'the replacement (default: the node\'s own address, e.g. restarted empty)')
    .action(action(async (o: Target & { node: string; to?: string }) => {
      const r = await (await parity()).storeRebuild(o.coldStore, { prefix: o.prefix, out: o.out, node: o.node, to: o.to, note: (m) => process.stderr.write(`${m}\n`) });
      process.stdout.write(`store rebuild: ${r.node} rebuilt on ${r.to}${r.by === 'trainer' ? ' by the running trainer' : ''}: ${r.blocks} blocks in ${r.sec.toFixed(2)}s, full redundancy\n`);
    }));
}
