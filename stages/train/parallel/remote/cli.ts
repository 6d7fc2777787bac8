/**
 * `hotcold worker --join <run>`: start one more process of a multi-process run (transport
 * redis) on this host or another; see stages/train/parallel/README.md.
 */
import type { Command } from 'commander';
import { action, collect, intArg } from '../../../../pipeline/cli.js';
import { PipelineError } from '../../../../pipeline/errors.js';
import type { EngineKind } from '../../engine/engine.js';

interface WorkerCliOptions {
  join: string;
  coldStore?: string;
  data?: string;
  hot?: string;
  config?: string;
  set: string[];
  engine: string;
  threads: number;
  waitSec?: number;
  quiet?: boolean;
}

/** Register `hotcold worker`. */
export function register(program: Command): void {
  program
    .command('worker')
    .description('join a multi-process training run (hotcold train --workers K --set parallel.transport=redis --cold-store redis://…) as one more rank')
    .requiredOption('--join <run>', "the coordinator's run directory (holds rendezvous.json) or its run id (the store key prefix, printed by hotcold train)")
    .option('--cold-store <addr>', "the coordinator's redis cold store (default: from <run>/rendezvous.json)")
    .option('--data <dir>', "this host's copy of the preprocessed dataset (default: the coordinator's path)")
    .option('--hot <dir>', "this host's copy of the segregated dataset (default: the coordinator's path)")
    .option('--config <file>', "a train config to check against the coordinator's (default: train with the coordinator's config)")
    .option('--set <key=value>', 'config overrides on top of --config (repeatable)', collect, [])
    .option('--engine <kind>', 'dense engine: auto, ts or blas', 'auto')
    .option('--threads <n>', 'OpenBLAS threads of this process', intArg('--threads', 1, 256), 1)
    .option('--wait-sec <s>', 'seconds to wait for the coordinator to accept joins (default: its parallel.joinTimeoutSec, else 600)', intArg('--wait-sec', 1))
    .option('--quiet', 'no progress lines')
    .action(
      action(async (o: WorkerCliOptions) => {
        const [{ loadTrainConfig }, { joinRun }] = await Promise.all([import('../../config.js'), import('./join.js')]);
        const config = o.config || o.set.length > 0 ? loadTrainConfig(o.config, o.set) : undefined;
        const r = await joinRun({
          join: o.join, coldStore: o.coldStore, data: o.data, hot: o.hot, config, engine: o.engine as EngineKind, threads: o.threads, waitSec: o.waitSec,
          log: o.quiet ? () => undefined : (m) => void process.stderr.write(`${m}\n`),
        });
        process.stdout.write(`worker: rank ${r.rank} of run ${r.runId}: ${r.steps} steps trained, ${r.cpuSec.toFixed(2)} CPU-s in its commands${r.stopReason ? `; stopped: ${r.stopReason}` : ''}\n`);
        if (r.stopReason) throw new PipelineError('worker_failed', `hotcold worker: rank ${r.rank} of run ${r.runId}: ${r.stopReason}`, { hint: 'the coordinator\'s error says how to resume; start this worker again once it waits for joins' });
      }),
    );
}
