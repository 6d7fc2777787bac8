/** The subcommands, in pipeline order. Each stage exports `register(program)` from its cli.ts. */
import type { Command } from 'commander';
import { register as generate } from '../datasets/synthetic/cli.js';
import { register as preprocess } from '../stages/preprocess/cli.js';
import { register as profile } from '../stages/profile/cli.js';
import { register as segregate } from '../stages/segregate/cli.js';
import { register as train } from '../stages/train/cli.js';
import { register as checkpoint } from '../stages/train/checkpoint/cli.js';
import { register as sweep } from '../stages/sweep/cli.js';
import { register as exportModel } from '../stages/train/export/cli.js';
import { register as predict } from '../stages/train/predict/cli.js';
import { register as exportShards } from '../stages/export-shards/cli.js';
import { register as store } from '../stages/train/store/cli.js';
import { register as worker } from '../stages/train/parallel/remote/cli.js';

export const commands: ((program: Command) => void)[] = [generate, preprocess, profile, segregate, train, worker, checkpoint, store, exportModel, predict, exportShards, sweep];
