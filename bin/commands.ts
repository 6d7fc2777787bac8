/** The subcommands, in pipeline order. Each stage exports `register(program)` from its cli.ts. */
import type { Command } from 'commander';

export const commands: ((program: Command) => void)[] = [];
