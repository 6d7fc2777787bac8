import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPreprocessed } from '../../datasets/preprocessed.js';
import { runExport } from '../../stages/train/export/index.js';
import { Message } from '../../stages/train/export/protobuf.js';
import { splitBatches } from '../../stages/train/predict/inputs.js';
import { Scorer } from '../../stages/train/predict/scorer.js';
import { loadModel, type LoadedModel } from '../../stages/train/saved/model.js';
import { makeModelRun, type ModelRun } from '../fixtures/model-run.js';
import { useTempDirs } from '../fixtures/temp.js';

let root = '';
let fx: ModelRun;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hotcold-onnx-'));
  fx = await makeModelRun(root);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const tmp = useTempDirs('hotcold-onnx-out-');

/** hotcold's and onnxruntime's logits and probabilities on the first `n` test rows. */
async function both(m: LoadedModel, file: string, n: number): Promise<{ z: Float32Array; p: Float32Array; oz: Float32Array; op: Float32Array }> {
  const b = (await splitBatches(fx.data, openPreprocessed(fx.data), 'test', n).next()).value!;
  const sc = new Scorer(m, n);
  const p = sc.score(b).slice();
  const z = sc.logits().slice();
  const s = await ort.InferenceSession.create(file);
  const out = await s.run({
    dense: new ort.Tensor('float32', b.dense.slice(0, b.size * 13), [b.size, 13]),
    cats: new ort.Tensor('int64', BigInt64Array.from(Array.from(b.cats.subarray(0, b.size * 26), BigInt)), [b.size, 26]),
  });
  expect(out.logit!.dims).toEqual([b.size, 1]);
  return { z, p, oz: out.logit!.data as Float32Array, op: out.probability!.data as Float32Array };
}

const maxDiff = (a: Float32Array, b: Float32Array): number => {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

describe('hotcold export --format onnx (read back by onnxruntime-node)', () => {
  it('gives hotcold\'s logits within 1e-5 and its probabilities', async () => {
    const out = join(tmp(), 'onnx');
    const man = await runExport({ run: fx.run, out, format: 'onnx' });
    expect(man.files.map((f) => f.path)).toEqual(['model.onnx', 'vocab.json']);
    const r = await both(loadModel({ run: fx.run }), join(out, 'model.onnx'), 400);
    expect(r.oz.length).toBe(r.z.length);
    expect(maxDiff(r.oz, r.z)).toBeLessThan(1e-5);
    expect(maxDiff(r.op, r.p)).toBeLessThan(1e-5);
    expect(Math.max(...r.z) - Math.min(...r.z)).toBeGreaterThan(0.1);
  });

  it('the initial weights export too, and carry the architecture in metadata_props', async () => {
    const out = join(tmp(), 'onnx-init');
    await runExport({ run: fx.run, initial: true, out, format: 'onnx' });
    const r = await both(loadModel({ run: fx.run, initial: true }), join(out, 'model.onnx'), 64);
    expect(maxDiff(r.oz, r.z)).toBeLessThan(1e-5);
    const bytes = readFileSync(join(out, 'model.onnx')).toString('latin1');
    expect(bytes).toContain('arch_mlp_bot');
    expect(bytes).toContain('13-16-8');
  });

  it('protobuf varints: 1, 300 and a negative int64 as ten bytes', () => {
    const enc = (v: number): number[] => Array.from(Buffer.concat(new Message().varint(1, v).chunks()));
    expect(enc(1)).toEqual([0x08, 0x01]);
    expect(enc(300)).toEqual([0x08, 0xac, 0x02]);
    expect(enc(-1)).toEqual([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
  });
});

describe('ONNX external data (how a model over 2 GiB is written)', () => {
  it('tables in model.onnx.data, 64-byte aligned; onnxruntime loads them from beside the model', async () => {
    const out = join(tmp(), 'onnx-ext');
    const man = await runExport({ run: fx.run, out, format: 'onnx', onnxInlineLimit: 0 });
    expect(man.files.map((f) => f.path)).toEqual(['model.onnx', 'model.onnx.data', 'vocab.json']);
    const m = loadModel({ run: fx.run });
    const tableBytes = m.tables.reduce((a, t) => a + t.weights.byteLength, 0);
    const data = man.files.find((f) => f.path === 'model.onnx.data')!;
    expect(data.bytes).toBeGreaterThanOrEqual(tableBytes);
    expect(data.bytes).toBeLessThan(tableBytes + 64 * 26);
    expect(man.files[0]!.bytes).toBeLessThan(tableBytes); // the tables are not inline
    const r = await both(m, join(out, 'model.onnx'), 200);
    expect(maxDiff(r.oz, r.z)).toBeLessThan(1e-5);
  });
});
