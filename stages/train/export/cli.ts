/** `hotcold export`: a trained model as safetensors (DLRM state_dict names) or ONNX, + its vocabulary map. */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { action } from '../../../pipeline/cli.js';
import type { EngineKind } from '../engine/engine.js';
import type { ExportFormat } from './index.js';

interface ExportCliOptions {
  run?: string;
  checkpoint?: string;
  initial?: boolean;
  data?: string;
  out: string;
  format: ExportFormat;
  engine: string;
  forceClean?: boolean;
}

const FORMATS: readonly ExportFormat[] = ['safetensors', 'onnx'];

/** Register `hotcold export`. */
export function register(program: Command): void {
  program
    .command('export')
    .description('export a trained model (run, checkpoint or initial weights) as safetensors (DLRM state_dict names) or ONNX (inference graph), plus vocab.json')
    .option('--run <dir>', 'train run directory (its final model, <run>/model)')
    .option('--checkpoint <dir>', 'checkpoint directory (its newest valid version)')
    .option('--initial', 'export the weights before step 0 (rebuilt from the config and seed) instead of the trained ones')
    .option('--data <dir>', 'preprocessed dataset the model was trained on (default: the one the run recorded)')
    .requiredOption('--out <dir>', 'output directory: model.safetensors or model.onnx, vocab.json, manifest.json')
    .option('--format <f>', `safetensors | onnx`, (v: string) => {
      if (!FORMATS.includes(v as ExportFormat)) throw new InvalidArgumentError(`--format must be one of ${FORMATS.join(', ')}, got '${v}'`);
      return v as ExportFormat;
    }, 'safetensors')
    .option('--engine <kind>', 'dense engine used to rebuild the model: auto, ts or blas', 'auto')
    .option('--force-clean', 'replace an --out directory that holds files not written by hotcold export (never /, home, the checkout or a directory holding an input)')
    .action(
      action(async (o: ExportCliOptions) => {
        const m = await (await import('./index.js')).runExport({ ...o, engine: o.engine as EngineKind });
        process.stdout.write(`export: ${m.source} → ${m.files.map((f) => `${o.out}/${f.path}`).join(', ')}\n`);
      }),
    );
}
