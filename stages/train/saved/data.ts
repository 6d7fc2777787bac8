/** The preprocessed dataset a loaded model was trained on (for its vocabulary and splits). */
import { resolve } from 'node:path';
import { openPreprocessed, type PreprocessManifest } from '../../../datasets/preprocessed.js';
import { mismatch, PipelineError } from '../../../pipeline/errors.js';
import { configHash } from '../../../pipeline/hash.js';
import type { LoadedModel } from './model.js';

/** The preprocessed dataset of a model, checked against what the model was trained on. */
export function modelData(m: LoadedModel, dataDir: string | undefined): { dir: string; manifest: PreprocessManifest } {
  const dir = dataDir ?? m.info?.dataDir;
  if (!dir) {
    throw new PipelineError('bad_config', `${m.source} does not record its preprocessed dataset: pass --data <dir>`, { field: '--data' });
  }
  const manifest = openPreprocessed(dir);
  if (m.dataFingerprint && m.dataFingerprint !== manifest.fingerprint) {
    throw mismatch(`${m.source} was trained on preprocessed data ${m.dataFingerprint}, but ${dir} holds ${manifest.fingerprint}`, 'pass the --data directory the model was trained on');
  }
  if (!m.dataFingerprint && m.dataHash && m.config.mode === 'baseline' && configHash({ data: manifest.fingerprint, hot: null }) !== m.dataHash) {
    throw mismatch(`${m.source} was written while training on other data than ${dir}`, 'pass the --data directory the model was trained on');
  }
  const sizes = manifest.vocab.sizes;
  if (sizes.length !== m.tables.length || sizes.some((s, t) => s !== m.tables[t]!.rows)) {
    throw mismatch(`${dir} has tables of ${sizes.join('/')} rows, the model ${m.tables.map((t) => t.rows).join('/')}`, 'pass the --data directory the model was trained on');
  }
  return { dir: resolve(dir), manifest };
}

