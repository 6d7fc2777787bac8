/**
 * Synthetic Criteo generator (public API). See README.md in this folder.
 *
 * Example::
 *
 *   const { sidecar } = await generateToFile({ rows: 1_000_000, seed: 7, out: 'data/synth.tsv' });
 *   for (const chunk of generateRows({ rows: 10_000, seed: 7 })) sink.write(chunk);
 */
export { generateToFile, readSidecar, sidecarPath, GENERATOR_VERSION } from './file.js';
export type { GenerateResult, GenerateSidecar, GenerateToFileOptions } from './file.js';
export { BLOCK_BYTES, BLOCK_ROWS, generateRows, SyntheticGenerator } from './generator.js';
export { dayStarts, kaggleTestVal, resolveOptions } from './options.js';
export type { GenerateOptions, ResolvedGenerateOptions } from './options.js';
export { PlantedModel, scaledCardinality } from './planted.js';
export type { BayesMetrics } from './metrics.js';
export type { DaySummary, RowBlock, StatsReport } from './stats.js';
