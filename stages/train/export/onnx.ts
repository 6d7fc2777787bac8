/**
 * ONNX export of the inference graph. Not built yet: `hotcold export --format onnx` refuses
 * with `not_implemented` rather than write a graph nobody has checked against onnxruntime.
 */
import { PipelineError } from '../../../pipeline/errors.js';
import type { LoadedModel } from '../saved/model.js';

/** @throws PipelineError('not_implemented') */
export function writeOnnx(_path: string, _m: LoadedModel, _metadata: Record<string, string>): never {
  throw new PipelineError('not_implemented', 'hotcold export --format onnx is not implemented yet', {
    hint: 'use --format safetensors (DLRM state_dict names; loads into PyTorch)',
  });
}
