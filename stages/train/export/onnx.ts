/**
 * ONNX export of the inference graph (opset 13), protobuf hand-encoded (protobuf.ts): no
 * maintained small ONNX writer exists on npm. Inputs and outputs:
 *
 *     dense        float32 [B, 13]   log-transformed dense features, as in the shards
 *     cats         int64   [B, 26]   row ids per table (vocab.json; 0 = missing, 1 = OOV)
 *     logit        float32 [B, 1]
 *     probability  float32 [B, 1]    sigmoid(logit)
 *
 * Graph (the same math as stages/train/model/dlrm.ts):
 *
 *     x = bottom MLP(dense)                        Gemm(transB) + Relu per layer
 *     e_k = Gather(emb_k, Gather(cats, k, axis 1))  [B, d] per table
 *     T = Reshape(Concat(x, e_0..e_F-1), [-1, F+1, d]);  Z = MatMul(T, Transpose(T))
 *     Zflat = Gather(Reshape(Z, [-1, (F+1)²]), lower-triangle indices i·(F+1)+j, i > j, axis 1)
 *     logit = top MLP(Concat(x, Zflat))             Relu after every layer but the last
 *
 * Small initializers are stored inline. The embedding tables go to a sidecar `<model>.onnx.data`
 * (ONNX external data: `data_location = EXTERNAL`, `location`/`offset`/`length`, 64-byte aligned)
 * when the model would pass {@link INLINE_LIMIT} bytes, so a model of any size stays under
 * protobuf's 2 GiB (the full Kaggle tables are 2.2 GB); onnxruntime reads them from beside the file.
 */
import { basename, dirname, join } from 'node:path';
import { writeChunksAtomicSync } from '../../../pipeline/atomic.js';
import { PipelineError } from '../../../pipeline/errors.js';
import type { LoadedModel } from '../saved/model.js';
import { Message } from './protobuf.js';

const OPSET = 13;
const IR_VERSION = 7;
const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;
const ATTR_INTS = 7;
/** protobuf's hard limit on one message */
const MAX_BYTES = 2 ** 31 - 1;
/** Above this many bytes of tables, they are written as external data. */
export const INLINE_LIMIT = 1 << 30;
const EXTERNAL_ALIGN = 64;

/** Where an external tensor's bytes go: the sidecar file name and the chunks appended to it. */
interface External {
  location: string;
  chunks: Uint8Array[];
  size: number;
}

function tensor(name: string, dims: number[], type: number, raw: Uint8Array, ext: External | null = null): Message {
  const t = new Message();
  for (const d of dims) t.varint(1, d);
  t.varint(2, type);
  t.string(8, name);
  if (!ext) return t.bytes(9, raw);
  const pad = (EXTERNAL_ALIGN - (ext.size % EXTERNAL_ALIGN)) % EXTERNAL_ALIGN;
  if (pad > 0) ext.chunks.push(new Uint8Array(pad));
  const offset = ext.size + pad;
  ext.chunks.push(raw);
  ext.size = offset + raw.length;
  for (const [k, v] of [['location', ext.location], ['offset', String(offset)], ['length', String(raw.length)]] as const) {
    t.message(13, new Message().string(1, k).string(2, v));
  }
  return t.varint(14, 1); // data_location = EXTERNAL
}

const f32Bytes = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const i64Bytes = (a: number[]): Uint8Array => new Uint8Array(BigInt64Array.from(a.map(BigInt)).buffer);

function valueInfo(name: string, type: number, dims: (number | string)[]): Message {
  const shape = new Message();
  for (const d of dims) shape.message(1, typeof d === 'number' ? new Message().varint(1, d) : new Message().string(2, d));
  const tt = new Message().varint(1, type).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tt));
}

/** Nodes of a graph under construction. */
class Graph {
  readonly nodes: Message[] = [];
  readonly inits: Message[] = [];
  private n = 0;

  node(op: string, inputs: string[], attrs: { name: string; i?: number; ints?: number[] }[] = [], out?: string): string {
    const o = out ?? `${op.toLowerCase()}_${this.n++}`;
    const m = new Message();
    for (const i of inputs) m.string(1, i);
    m.string(2, o).string(3, `${op}_${this.n++}`).string(4, op);
    for (const a of attrs) {
      const am = new Message().string(1, a.name);
      if (a.ints) {
        for (const v of a.ints) am.varint(8, v);
        am.varint(20, ATTR_INTS);
      } else {
        am.varint(3, a.i!).varint(20, ATTR_INT);
      }
      m.message(5, am);
    }
    this.nodes.push(m);
    return o;
  }

  init(name: string, dims: number[], type: number, raw: Uint8Array, ext: External | null = null): string {
    this.inits.push(tensor(name, dims, type, raw, ext));
    return name;
  }
}

/**
 * Build the ModelProto of `m`.
 * @param ext where the embedding tables go when stored outside the model (null: inline)
 */
export function onnxModel(m: LoadedModel, metadata: Record<string, string>, ext: External | null = null): Message {
  const { dim: d, numTables: F, bot, top } = m.model.shape;
  const views = m.model.paramViews();
  const g = new Graph();
  const mlp = (x: string, prefix: 'bot' | 'top', widths: number[], reluLast: boolean): string => {
    for (let l = 0; l + 1 < widths.length; l++) {
      const w = g.init(`${prefix}_l.${2 * l}.weight`, [widths[l + 1]!, widths[l]!], FLOAT, f32Bytes(views[`${prefix}.${l}.w`]!));
      const b = g.init(`${prefix}_l.${2 * l}.bias`, [widths[l + 1]!], FLOAT, f32Bytes(views[`${prefix}.${l}.b`]!));
      x = g.node('Gemm', [x, w, b], [{ name: 'transB', i: 1 }]);
      if (l + 2 < widths.length || reluLast) x = g.node('Relu', [x]);
    }
    return x;
  };
  const xBot = mlp('dense', 'bot', bot, true);
  const embs: string[] = [];
  for (let k = 0; k < F; k++) {
    const t = m.tables[k]!;
    const table = g.init(`emb_l.${k}.weight`, [t.rows, t.dim], FLOAT, f32Bytes(t.weights), ext);
    const col = g.init(`col_${k}`, [], INT64, i64Bytes([k]));
    const ids = g.node('Gather', ['cats', col], [{ name: 'axis', i: 1 }]);
    embs.push(g.node('Gather', [table, ids], [{ name: 'axis', i: 0 }]));
  }
  const V = F + 1;
  const cat = g.node('Concat', [xBot, ...embs], [{ name: 'axis', i: 1 }]);
  const T = g.node('Reshape', [cat, g.init('shape_T', [3], INT64, i64Bytes([-1, V, d]))]);
  const Tt = g.node('Transpose', [T], [{ name: 'perm', ints: [0, 2, 1] }]);
  const Z = g.node('MatMul', [T, Tt]);
  const Zf = g.node('Reshape', [Z, g.init('shape_Z', [2], INT64, i64Bytes([-1, V * V]))]);
  const pairs: number[] = [];
  for (let i = 1; i < V; i++) for (let j = 0; j < i; j++) pairs.push(i * V + j);
  const Zflat = g.node('Gather', [Zf, g.init('lower_triangle', [pairs.length], INT64, i64Bytes(pairs))], [{ name: 'axis', i: 1 }]);
  const R = g.node('Concat', [xBot, Zflat], [{ name: 'axis', i: 1 }]);
  const logit = mlp(R, 'top', top, false);
  g.node('Identity', [logit], [], 'logit');
  g.node('Sigmoid', [logit], [], 'probability');

  const graph = new Message();
  for (const n of g.nodes) graph.message(1, n);
  graph.string(2, 'hotcold_dlrm');
  for (const t of g.inits) graph.message(5, t);
  graph.message(11, valueInfo('dense', FLOAT, ['batch', bot[0]!]));
  graph.message(11, valueInfo('cats', INT64, ['batch', F]));
  graph.message(12, valueInfo('logit', FLOAT, ['batch', 1]));
  graph.message(12, valueInfo('probability', FLOAT, ['batch', 1]));

  const model = new Message().varint(1, IR_VERSION).string(2, 'hotcold').string(3, '0.1.0');
  model.message(7, graph);
  model.message(8, new Message().string(1, '').varint(2, OPSET));
  for (const [k, v] of Object.entries(metadata)) model.message(14, new Message().string(1, k).string(2, v));
  return model;
}

/**
 * Write the ONNX model atomically; the tables go to `<path>.data` when they pass `inlineLimit` bytes.
 * @returns the files written (base names)
 */
export function writeOnnx(path: string, m: LoadedModel, metadata: Record<string, string>, inlineLimit = INLINE_LIMIT): string[] {
  const tableBytes = m.tables.reduce((a, t) => a + t.weights.byteLength, 0);
  const ext: External | null = tableBytes > inlineLimit ? { location: `${basename(path)}.data`, chunks: [], size: 0 } : null;
  const model = onnxModel(m, metadata, ext);
  if (model.byteLength > MAX_BYTES) {
    throw new PipelineError('not_implemented', `the ONNX model would be ${(model.byteLength / 2 ** 30).toFixed(2)} GiB of dense parameters, over protobuf's 2 GiB limit`, {
      hint: 'use --format safetensors for a model this large',
    });
  }
  writeChunksAtomicSync(path, model.chunks());
  if (ext) writeChunksAtomicSync(join(dirname(path), ext.location), ext.chunks);
  return ext ? [basename(path), ext.location] : [basename(path)];
}

