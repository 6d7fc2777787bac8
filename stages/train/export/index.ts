/**
 * `hotcold export`: a trained model (a run's final model, a checkpoint, or the initial weights)
 * in a standard form, with the vocabulary it was trained on:
 *
 *     <out>/model.safetensors   fp32 tensors under DLRM's state_dict names (dlrm-names.ts),
 *                               __metadata__ = architecture + provenance (string values)
 *     <out>/model.onnx          (--format onnx) the inference graph: logits and probabilities
 *     <out>/model.onnx.data     its embedding tables, when they pass 1 GiB (ONNX external data)
 *     <out>/vocab.json          raw hex value → row id per table (vocab-map.ts)
 *     <out>/manifest.json       committed last
 */
import { join } from 'node:path';
import type { PreprocessManifest } from '../../../datasets/preprocessed.js';
import { readVocabValues } from '../../../datasets/vocab.js';
import { configHash } from '../../../pipeline/hash.js';
import { fileEntry, manifestHead, type ManifestBase } from '../../../pipeline/manifest.js';
import { openStagedOutput, type PathArg } from '../../../pipeline/outdir.js';
import type { EngineKind } from '../engine/engine.js';
import { modelData } from '../saved/data.js';
import { loadModel, type LoadedModel } from '../saved/model.js';
import { dlrmArchMetadata, dlrmTensors } from './dlrm-names.js';
import { writeOnnx } from './onnx.js';
import { writeSafetensors } from './safetensors.js';
import { writeVocabMap } from './vocab-map.js';

export type ExportFormat = 'safetensors' | 'onnx';

export interface ExportOptions {
  /** a train run directory (its final model) */
  run?: string;
  /** a checkpoint directory (its newest valid version) */
  checkpoint?: string;
  /** the weights before step 0 instead of the trained ones */
  initial?: boolean;
  /** the preprocessed dataset the model was trained on; default: the one the saved model names */
  data?: string;
  out: string;
  format: ExportFormat;
  engine?: EngineKind;
  /** replace an --out directory that holds files hotcold export did not write */
  forceClean?: boolean;
  /** ONNX: tables above this many bytes go to model.onnx.data @default onnx.ts INLINE_LIMIT (1 GiB) */
  onnxInlineLimit?: number;
}

export interface ExportManifest extends ManifestBase {
  magic: 'hotcold.export';
  format: ExportFormat;
  source: string;
  stage: LoadedModel['stage'];
  data: { dir: string; fingerprint: string };
  metadata: Record<string, string>;
}

/** Export a model; reuses a committed export of the same weights, format and data. */
export async function runExport(o: ExportOptions): Promise<ExportManifest> {
  const t0 = performance.now();
  const m = loadModel({ run: o.run, checkpoint: o.checkpoint, initial: o.initial, engine: o.engine });
  const data = modelData(m, o.data);
  const fingerprint = configHash({ format: o.format, model: m.id, data: data.manifest.fingerprint, inlineLimit: o.onnxInlineLimit ?? null });
  const inputs: PathArg[] = [{ flag: '--data', path: data.dir }];
  if (o.run !== undefined) inputs.push({ flag: '--run', path: o.run });
  if (o.checkpoint !== undefined) inputs.push({ flag: '--checkpoint', path: o.checkpoint });
  const out = openStagedOutput<ExportManifest>({ dir: o.out, kind: 'export', inputs, forceClean: o.forceClean }, fingerprint);
  if (out.reused) return out.reused;
  try {
    return await writeExport(o, m, data, fingerprint, out.dir, t0, out.commit);
  } catch (e) {
    out.abort();
    throw e;
  }
}

async function writeExport(
  o: ExportOptions, m: LoadedModel, data: { dir: string; manifest: PreprocessManifest }, fingerprint: string, dir: string, t0: number,
  commit: (m: ExportManifest) => void,
): Promise<ExportManifest> {
  const metadata: Record<string, string> = {
    format: 'hotcold.dlrm',
    ...dlrmArchMetadata(m),
    weights: m.stage,
    source: m.source,
    seed: String(m.config.seed),
    train_mode: m.config.mode,
    samples_trained: String(m.info?.samplesTrained ?? ''),
    max_ind_range: String(data.manifest.options.maxIndRange),
    data_fingerprint: data.manifest.fingerprint,
    dense_transform: 'log(1 + max(x, 0)), missing → 0',
    categorical_ids: 'row 0 = missing, row 1 = out-of-vocabulary, rows 2.. = vocab.json',
  };
  let written: string[];
  if (o.format === 'safetensors') {
    writeSafetensors(join(dir, 'model.safetensors'), dlrmTensors(m), metadata);
    written = ['model.safetensors'];
  } else {
    written = writeOnnx(join(dir, 'model.onnx'), m, metadata, o.onnxInlineLimit);
  }
  writeVocabMap(join(dir, 'vocab.json'), readVocabValues(data.dir, data.manifest), data.manifest.options.maxIndRange);
  const files = await Promise.all([...written, 'vocab.json'].map((f) => fileEntry(dir, f)));
  const manifest: ExportManifest = {
    ...manifestHead('export', fingerprint, t0, files),
    format: o.format, source: m.source, stage: m.stage, data: { dir: data.dir, fingerprint: data.manifest.fingerprint }, metadata,
  };
  commit(manifest);
  return manifest;
}
