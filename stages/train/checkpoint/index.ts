/**
 * Incremental checkpoints and exact resume (design.md §6). The trainer builds a
 * {@link TrainState}, calls {@link CheckpointStore.save} on its schedule and
 * {@link CheckpointStore.restore} on `--resume`. See README.md for the format.
 */
export type { Blob, CheckpointOptions, CommitStep, RestoreResult, SaveResult, SaveStarted, TableState, TrainState } from './types.js';
export { CheckpointStore, InjectedCrash } from './store.js';
export type { CheckpointManifest } from './format.js';
export { listCheckpoints, verifyCheckpoints, compactCheckpoints, type VersionInfo, type VerifyReport } from './tools.js';

export { DEFAULT_FULL_EVERY } from './defaults.js';
