/**
 * A trained model on disk and back: what `export`, `predict` and `evaluate` load.
 *
 *     <run>/model/v000001.{bin,json}   the final model of a run (train.saveModel), one full
 *                                      checkpoint-format version (CRC-32, committed manifest)
 *     <checkpoint dir>/vNNNNNN.*       any checkpoint chain: the newest fully valid version
 *     --initial                        the weights before step 0, rebuilt from the run's config
 *                                      and seed (DLRM init is deterministic, so nothing is stored)
 *
 * The model is rebuilt through {@link Trainer} (same init streams as training), then the stored
 * parameters are read into it with the checkpoint loader, so shapes are checked the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PipelineError } from '../../../pipeline/errors.js';
import { configHash } from '../../../pipeline/hash.js';
import { hasManifest, readManifest, type ManifestBase } from '../../../pipeline/manifest.js';
import { CheckpointStore, type CheckpointManifest } from '../checkpoint/index.js';
import { isFormatError, readCheckpointManifest, resolveChain, committedVersions } from '../checkpoint/manifest.js';
import { loadChain } from '../checkpoint/load.js';
import { resolveTrainConfig, type TrainConfig } from '../config.js';
import { createEngine, type EngineKind } from '../engine/engine.js';
import type { Dlrm } from '../model/dlrm.js';
import type { EmbeddingTable } from '../model/embedding.js';
import { CONFIG_FILE } from '../run-files.js';
import { Trainer } from '../trainer.js';

/** Folder of a run directory that holds its final model. */
export const MODEL_DIR = 'model';

/** What a saved model records besides its parameters (the position JSON of its version). */
export interface ModelInfo {
  kind: 'hotcold.model';
  /** fingerprint of the preprocessed dataset the model was trained on (its vocabulary) */
  dataFingerprint: string;
  /** that dataset's directory when the model was written */
  dataDir: string;
  engine: string;
  samplesTrained: number;
  epochs: number;
}

/** A model ready for forward passes. */
export interface LoadedModel {
  config: TrainConfig;
  model: Dlrm;
  /** host tables, C1..C26 */
  tables: EmbeddingTable[];
  /** where the weights came from, for messages and export metadata */
  source: string;
  /** null for a checkpoint written during training (its position is the trainer's) */
  info: ModelInfo | null;
  /** fingerprint of the preprocessed training data (saved models), else null */
  dataFingerprint: string | null;
  /** a training checkpoint's `dataHash` = configHash({data, hot}) of its inputs, else null */
  dataHash: string | null;
  /** 'final' (a run's model/), 'checkpoint' (vN of a chain) or 'initial' (before step 0) */
  stage: 'final' | 'checkpoint' | 'initial';
  /** identifies these exact weights: the stored version's manifest hash (or config hash + sizes for initial) */
  id: string;
}

/**
 * Write the final model of a run: one full version in `<run>/model/` (older versions pruned).
 * The caller syncs the device's hot rows to the host tables first.
 */
export function saveModel(runDir: string, trainer: Trainer, config: TrainConfig, info: ModelInfo): void {
  const store = CheckpointStore.open({ dir: join(runDir, MODEL_DIR), threshold: 0, fullEvery: 0, keepChains: 1 });
  store.save(trainer.state(config, info as unknown as Record<string, unknown>, {}), { full: true });
}

export interface LoadOptions {
  /** a train run directory (uses `<run>/model/`) */
  run?: string;
  /** a checkpoint directory (the newest fully valid version) */
  checkpoint?: string;
  /** the initial weights (before step 0) of the run's config; needs `run` or `checkpoint` for the config */
  initial?: boolean;
  /** @default 'auto' */
  engine?: EngineKind;
  /** OpenBLAS threads for forward passes @default 1 */
  threads?: number;
}

/**
 * Load a model from a run, a checkpoint directory, or the initial weights of either's config.
 * @throws not_found / bad_manifest naming what is missing; checksum when no version is valid
 */
export function loadModel(o: LoadOptions): LoadedModel {
  if ((o.run === undefined) === (o.checkpoint === undefined)) {
    throw new PipelineError('bad_config', 'give exactly one of --run <dir> or --checkpoint <dir>', { field: o.run ? '--checkpoint' : '--run' });
  }
  const engine = createEngine(o.engine ?? 'auto', o.threads ?? 1);
  if (o.run !== undefined) {
    const run = resolve(o.run);
    if (!existsSync(run)) throw new PipelineError('not_found', `run directory ${run} does not exist`, { file: run });
    const modelDir = join(run, MODEL_DIR);
    if (o.initial) {
      // the config from the run, the table sizes from its saved model (the initial weights are rebuilt, not stored)
      const cfgPath = join(run, CONFIG_FILE);
      if (!existsSync(cfgPath)) throw new PipelineError('bad_manifest', `run ${run} has no ${CONFIG_FILE}`, { file: run });
      const chain = newestChain(modelDir, `run ${run} has no saved model`);
      const config = resolveTrainConfig(JSON.parse(readFileSync(cfgPath, 'utf8')), [], cfgPath);
      return initialOf(config, chain, engine, `initial weights of ${run}`);
    }
    if (!hasManifest(run)) {
      throw new PipelineError('bad_manifest', `run ${run} has no committed manifest (unfinished or not a train run)`, {
        file: run, hint: 'finish the run, or pass --checkpoint <its checkpoint dir> to use a checkpoint written during training',
      });
    }
    readManifest<ManifestBase>(run, 'train');
    if (!existsSync(modelDir) || committedVersions(modelDir).length === 0) {
      throw new PipelineError('not_found', `run ${run} has no saved model (${MODEL_DIR}/): it was trained with train.saveModel=false or by an older hotcold`, {
        file: run, hint: 'train again (train.saveModel defaults to true), or pass --checkpoint <dir> if the run wrote checkpoints',
      });
    }
    return restoreInto(modelDir, engine, 'final', `final model of ${run}`);
  }
  const dir = resolve(o.checkpoint!);
  if (!existsSync(dir)) throw new PipelineError('not_found', `checkpoint directory ${dir} does not exist`, { file: dir });
  if (o.initial) {
    const chain = newestChain(dir, `checkpoint directory ${dir} holds no committed version`);
    const config = resolveTrainConfig(chain[chain.length - 1]!.config, [], join(dir, 'checkpoint config'));
    return initialOf(config, chain, engine, `initial weights of the run that wrote ${dir}`);
  }
  return restoreInto(dir, engine, 'checkpoint', `checkpoint ${dir}`);
}

/** The chain of the newest readable version of `dir`. */
function newestChain(dir: string, none: string): CheckpointManifest[] {
  const vs = existsSync(dir) ? committedVersions(dir) : [];
  for (let i = vs.length - 1; i >= 0; i--) {
    try {
      return resolveChain(dir, vs[i]!);
    } catch (e) {
      if (isFormatError(e)) throw e;
    }
  }
  throw new PipelineError('not_found', none, { file: dir });
}

function initialOf(config: TrainConfig, chain: CheckpointManifest[], engine: ReturnType<typeof createEngine>, source: string): LoadedModel {
  const sizes = chain[chain.length - 1]!.tables.map((t) => t.rows);
  const trainer = new Trainer(config, engine, sizes, null);
  const info = infoOf(chain[chain.length - 1]!);
  const pos = chain[chain.length - 1]!.position as { dataHash?: unknown };
  return {
    config, model: trainer.model, tables: trainer.device.tables, source, info, dataFingerprint: info?.dataFingerprint ?? null,
    dataHash: typeof pos.dataHash === 'string' ? pos.dataHash : null, stage: 'initial', id: configHash({ initial: config, sizes }),
  };
}

function infoOf(m: CheckpointManifest): ModelInfo | null {
  const p = m.position as Partial<ModelInfo>;
  return p.kind === 'hotcold.model' ? (p as ModelInfo) : null;
}

/** Newest fully valid version of `dir`, read into a freshly built model. */
function restoreInto(dir: string, engine: ReturnType<typeof createEngine>, stage: 'final' | 'checkpoint', source: string): LoadedModel {
  const vs = committedVersions(dir);
  if (vs.length === 0) throw new PipelineError('not_found', `${dir} holds no committed checkpoint version`, { file: dir });
  const skipped: string[] = [];
  for (let i = vs.length - 1; i >= 0; i--) {
    const v = vs[i]!;
    try {
      const chain = resolveChain(dir, v);
      const last = chain[chain.length - 1]!;
      const config = resolveTrainConfig(last.config, [], join(dir, `v${String(v).padStart(6, '0')}.json config`));
      const trainer = new Trainer(config, engine, last.tables.map((t) => t.rows), null);
      loadChain(dir, chain, trainer.state(config, {}, {}));
      const info = infoOf(readCheckpointManifest(dir, v));
      const pos = last.position as { dataHash?: string };
      return {
        config, model: trainer.model, tables: trainer.device.tables, source: `${source} (v${v})`, info,
        dataFingerprint: info?.dataFingerprint ?? null, dataHash: typeof pos.dataHash === 'string' ? pos.dataHash : null, stage, id: last.selfSha256,
      };
    } catch (e) {
      if (isFormatError(e)) throw e;
      if (e instanceof PipelineError && (e.code === 'checksum' || e.code === 'bad_manifest')) {
        skipped.push(`v${v}: ${e.message}`);
        continue;
      }
      throw e;
    }
  }
  throw new PipelineError('checksum', `no valid version in ${dir}: ${skipped.join('; ')}`, { file: dir });
}
