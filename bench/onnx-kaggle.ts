/**
 * `npx tsx bench/onnx-kaggle.ts`: one ONNX export at full Kaggle size, loaded back by onnxruntime-node.
 *
 * The Kaggle model (13-512-256-64-16 / 512-256-1, dim 16) with DLRM's Kaggle table sizes
 * (KAGGLE_CARDINALITIES + the missing and OOV rows: 33.8M rows, 2.16 GB of fp32) initialised at
 * random as DLRM does: the tables pass protobuf's 2 GiB, so they go to `model.onnx.data` (ONNX
 * external data). The graph is written with the exporter's `writeOnnx`, loaded by onnxruntime-node,
 * and its logits on one batch (random ids over every table's full range, random dense) are compared
 * with hotcold's own forward pass. No training data is needed: the export's size, not its weights'
 * values, is what this checks. Needs ≈ 7 GB of memory and 2.2 GB of disk under --dir.
 *
 *     npx tsx bench/onnx-kaggle.ts [-- --dir /tmp/x --batch 4096]
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { KAGGLE_CARDINALITIES } from '../datasets/criteo/constants.js';
import { Rng } from '../pipeline/rng.js';
import { createEngine } from '../stages/train/engine/engine.js';
import { writeOnnx } from '../stages/train/export/onnx.js';
import { Dlrm, parseArch } from '../stages/train/model/dlrm.js';
import { EmbeddingTable, gatherBatch } from '../stages/train/model/embedding.js';
import type { LoadedModel } from '../stages/train/saved/model.js';
import { arg } from './args.js';

const B = Number(arg('batch', '4096'));
const dir = mkdtempSync(join(arg('dir', tmpdir()), 'hotcold-onnx-kaggle-'));
const log = (s: string): void => void process.stdout.write(`${s}\n`);
const gib = (n: number): string => `${(n / 2 ** 30).toFixed(2)} GiB`;
log(`bench:onnx-kaggle — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}, onnxruntime-node ${ort.env.versions.node}`);
try {
  const rng = new Rng(1);
  const engine = createEngine('auto', 1);
  const dim = 16;
  const shape = parseArch('13-512-256-64-16', '512-256-1', dim, 26);
  const model = new Dlrm(shape, engine, rng);
  let t = performance.now();
  const tables = KAGGLE_CARDINALITIES.map((c) => {
    const tb = new EmbeddingTable(c + 2, dim, { kind: 'sgd', lr: 0.1 });
    tb.initUniform(rng);
    return tb;
  });
  const rows = tables.reduce((a, tb) => a + tb.rows, 0);
  log(`tables: ${rows} rows × ${dim} = ${gib(rows * dim * 4)} (initialised in ${((performance.now() - t) / 1000).toFixed(1)} s)`);
  const m = { model, tables, source: 'bench: random Kaggle-size model' } as unknown as LoadedModel;
  t = performance.now();
  const path = join(dir, 'model.onnx');
  const files = writeOnnx(path, m, { arch_mlp_bot: '13-512-256-64-16', arch_mlp_top: '512-256-1' });
  log(`writeOnnx: ${files.map((f) => `${f} ${gib(statSync(join(dir, f)).size)}`).join(', ')} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  // one batch: ids over each table's whole range (its last rows included), random dense
  const cats = new Int32Array(B * 26);
  const dense = new Float32Array(B * 13);
  for (let r = 0; r < B; r++) {
    for (let f = 0; f < 26; f++) cats[r * 26 + f] = r === 0 ? tables[f]!.rows - 1 : rng.nextU32() % tables[f]!.rows;
    for (let k = 0; k < 13; k++) dense[r * 13 + k] = Math.log1p(rng.nextU32() % 1000);
  }
  const emb = new Float32Array(B * 26 * dim);
  gatherBatch(tables, cats, B, emb, engine.kernels);
  model.forward(B, dense, emb);
  const z = model.logits().slice();
  t = performance.now();
  const s = await ort.InferenceSession.create(path);
  const tLoad = (performance.now() - t) / 1000;
  t = performance.now();
  const out = await s.run({
    dense: new ort.Tensor('float32', dense, [B, 13]),
    cats: new ort.Tensor('int64', BigInt64Array.from(Array.from(cats, BigInt)), [B, 26]),
  });
  const tRun = (performance.now() - t) / 1000;
  const oz = out.logit!.data as Float32Array;
  let d = 0;
  for (let i = 0; i < B; i++) d = Math.max(d, Math.abs(oz[i]! - z[i]!));
  log(`onnxruntime-node: session created in ${tLoad.toFixed(1)} s, one batch of ${B} in ${tRun.toFixed(2)} s; max |logit − hotcold's| = ${d.toExponential(2)} (bar 1e-5: ${d < 1e-5 ? 'met' : 'NOT met'})`);
  log(`peak RSS ${gib(process.resourceUsage().maxRSS * 1024)}; load after ${loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  if (!(d < 1e-5)) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
