import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openPreprocessed } from '../../datasets/preprocessed.js';
import { readShardFile } from '../../datasets/shards.js';
import { runExport } from '../../stages/train/export/index.js';
import { safetensorsHeader } from '../../stages/train/export/safetensors.js';
import { splitBatches } from '../../stages/train/predict/inputs.js';
import { Scorer } from '../../stages/train/predict/scorer.js';
import { loadModel } from '../../stages/train/saved/model.js';
import { makeModelRun, type ModelRun } from '../fixtures/model-run.js';
import { randomSplit, writePreprocessedFixture } from '../fixtures/preprocessed.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, '..', 'interop', 'dlrm_torch.py');
const hasTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const TORCH_SKIP = hasTorch ? '' : ' [SKIPPED: /usr/bin/python3 cannot import torch; apt-get install python3-torch]';

let root = '';
let fx: ModelRun;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'hotcold-export-'));
  fx = await makeModelRun(root);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));
const tmp = useTempDirs('hotcold-export-out-');

/** hotcold's logits on the first `n` test rows, and the batch as dlrm_torch.py reads it. */
async function hotcoldLogits(m: ReturnType<typeof loadModel>, n: number, file: string): Promise<Float32Array> {
  const gen = splitBatches(fx.data, openPreprocessed(fx.data), 'test', n);
  const b = (await gen.next()).value!;
  const scorer = new Scorer(m, n);
  scorer.score(b);
  const z = scorer.logits().slice();
  const B = b.size;
  const buf = Buffer.alloc(4 + 4 * B * 13 + 4 * B * 26);
  buf.writeUInt32LE(B, 0);
  Buffer.from(b.dense.buffer, b.dense.byteOffset, 4 * B * 13).copy(buf, 4);
  Buffer.from(b.cats.buffer, b.cats.byteOffset, 4 * B * 26).copy(buf, 4 + 4 * B * 13);
  writeFileSync(file, buf);
  return z;
}

function torchLogits(model: string, batch: string): number[] {
  const out = execFileSync(PYTHON, [SCRIPT, model, batch], { encoding: 'utf8', timeout: 120_000 });
  return (JSON.parse(out) as { logits: number[] }).logits;
}

describe('hotcold export --format safetensors', () => {
  it('writes a valid header: 8-aligned data, contiguous offsets, DLRM names, architecture metadata', async () => {
    const out = join(tmp(), 'exp');
    const man = await runExport({ run: fx.run, out, format: 'safetensors' });
    expect(man.files.map((f) => f.path)).toEqual(['model.safetensors', 'vocab.json']);
    const raw = readFileSync(join(out, 'model.safetensors'));
    const n = Number(raw.readBigUInt64LE(0));
    expect((8 + n) % 8).toBe(0);
    const h = JSON.parse(raw.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__: Record<string, string> };
    const meta = h.__metadata__;
    expect(meta.arch_mlp_bot).toBe('13-16-8');
    expect(meta.arch_mlp_top).toBe('32-1');
    expect(meta.top_input_width).toBe(String(8 + 351));
    const names = Object.keys(h).filter((k) => k !== '__metadata__');
    expect(names).toContain('emb_l.25.weight');
    expect(names).toEqual(expect.arrayContaining(['bot_l.0.weight', 'bot_l.0.bias', 'bot_l.2.weight', 'top_l.0.weight', 'top_l.2.bias']));
    expect(h['top_l.0.weight']!.shape).toEqual([32, 359]);
    let end = 0;
    for (const k of names) {
      expect(h[k]!.dtype).toBe('F32');
      expect(h[k]!.data_offsets[0]).toBe(end);
      end = h[k]!.data_offsets[1];
    }
    expect(8 + n + end).toBe(raw.length);
    // the bytes are the model's parameters
    const m = loadModel({ run: fx.run });
    const e = h['emb_l.3.weight']!;
    const got = new Float32Array(raw.buffer.slice(raw.byteOffset + 8 + n + e.data_offsets[0], raw.byteOffset + 8 + n + e.data_offsets[1]));
    expect(got).toEqual(m.tables[3]!.weights);
    // a second export of the same weights is reused
    const again = await runExport({ run: fx.run, out, format: 'safetensors' });
    expect(again.createdAt).toBe(man.createdAt);
  });

  it('vocab.json maps raw hex values to the ids preprocess gave them', async () => {
    const out = join(tmp(), 'exp');
    await runExport({ run: fx.run, out, format: 'safetensors' });
    const vocab = JSON.parse(readFileSync(join(out, 'vocab.json'), 'utf8')) as { missing_id: number; oov_id: number; tables: Record<string, Record<string, number>> };
    const lines = readFileSync(fx.raw, 'utf8').split('\n').slice(0, 200);
    const m = openPreprocessed(fx.data);
    const shard = readShardFile(join(fx.data, m.splits.train.shards[0]!.file));
    for (let r = 0; r < lines.length; r++) {
      const f = lines[r]!.split('\t');
      for (let c = 0; c < 26; c++) {
        const v = f[14 + c] ?? '';
        const id = v === '' ? vocab.missing_id : vocab.tables[`C${c + 1}`]![v.toLowerCase()] ?? vocab.oov_id;
        expect(id).toBe(shard.cats[c]![r]);
      }
    }
    expect(Object.keys(vocab.tables['C1']!).length).toBe(m.vocab.sizes[0]! - 2);
  });

  it(`loads into a PyTorch DLRM (load_state_dict strict) with the same logits within 1e-5${TORCH_SKIP}`, async (ctx) => {
    if (!hasTorch) ctx.skip();
    const dir = tmp();
    await runExport({ run: fx.run, out: join(dir, 'exp'), format: 'safetensors' });
    const z = await hotcoldLogits(loadModel({ run: fx.run }), 300, join(dir, 'batch.bin'));
    const t = torchLogits(join(dir, 'exp', 'model.safetensors'), join(dir, 'batch.bin'));
    expect(t.length).toBe(z.length);
    let maxDiff = 0;
    for (let i = 0; i < z.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t[i]! - z[i]!));
    expect(maxDiff).toBeLessThan(1e-5);
    // and the model is not trivial: logits vary
    expect(Math.max(...z) - Math.min(...z)).toBeGreaterThan(0.1);
  }, 120_000);

  it(`--initial exports the weights before step 0 (differ from the trained ones; torch agrees)${TORCH_SKIP}`, async (ctx) => {
    const dir = tmp();
    const man = await runExport({ run: fx.run, initial: true, out: join(dir, 'init'), format: 'safetensors' });
    expect(man.stage).toBe('initial');
    const init = loadModel({ run: fx.run, initial: true });
    const trained = loadModel({ run: fx.run });
    expect(init.model.params).not.toEqual(trained.model.params);
    // initial embeddings are DLRM's U(±sqrt(1/rows))
    const t0 = init.tables[0]!;
    const bound = Math.sqrt(1 / t0.rows);
    expect(Math.max(...t0.weights.map(Math.abs))).toBeLessThanOrEqual(bound);
    if (!hasTorch) ctx.skip();
    const z = await hotcoldLogits(init, 64, join(dir, 'batch.bin'));
    const t = torchLogits(join(dir, 'init', 'model.safetensors'), join(dir, 'batch.bin'));
    for (let i = 0; i < z.length; i++) expect(Math.abs(t[i]! - z[i]!)).toBeLessThan(1e-5);
  }, 120_000);

  it('refuses: no model source, a missing run, a directory that is not a run, other data', async () => {
    const out = join(tmp(), 'x');
    await expectCode(runExport({ out, format: 'safetensors' }), 'bad_config');
    await expectCode(runExport({ run: join(root, 'nope'), out, format: 'safetensors' }), 'not_found');
    await expectCode(runExport({ run: fx.data, out, format: 'safetensors' }), 'bad_manifest');
    // another preprocessed dataset than the one the run was trained on
    const other = join(tmp(), 'other');
    const sizes = Array.from({ length: 26 }, () => 10);
    await writePreprocessedFixture(other, { sizes, train: randomSplit(100, sizes, 1), test: randomSplit(50, sizes, 2) });
    const e = await expectCode(runExport({ run: fx.run, data: other, out, format: 'safetensors' }), 'mismatch');
    expect(e.message).toMatch(/was trained on preprocessed data .* but .* holds/);
  });

  it('safetensorsHeader rejects a tensor whose data does not fit its shape', () => {
    expect(() => safetensorsHeader([{ name: 'a', shape: [2, 3], data: new Float32Array(5) }], {})).toThrow(/shape/);
  });
});
