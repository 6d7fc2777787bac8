/**
 * Without the parse addon: `auto` falls back to TypeScript, `native` is a clear bad_config error,
 * and the XXH64 checksums come from the TypeScript twin (the part writer's thread gets them from
 * the main thread), the same digests.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import { useTempDirs } from '../fixtures/temp.js';

process.env.HOTCOLD_PARSE_ADDON = path.join(os.tmpdir(), 'hotcold-no-such-dir', 'parse.node');
const { loadParseAddon, resolveParser } = await import('../../datasets/criteo/native.js');
const { createXxh64, nativeXxh64, Xxh64Ts } = await import('../../pipeline/xxh64.js');
const { run } = await import('../../stages/preprocess/index.js');
const { verifyFiles } = await import('../../pipeline/manifest.js');
const { quietSink } = await import('../../pipeline/progress.js');

const tmp = useTempDirs('hotcold-no-addon-');

describe('parse addon missing', () => {
  it('auto → TypeScript (null), ts → null, native → bad_config naming the fix', () => {
    expect(loadParseAddon().addon).toBeNull();
    expect(loadParseAddon().error).toMatch(/hotcold-no-such-dir|Cannot find/);
    expect(resolveParser('auto')).toBeNull();
    expect(resolveParser('ts')).toBeNull();
    let err: unknown = null;
    try {
      resolveParser('native');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('bad_config');
    expect((err as PipelineError).hint).toMatch(/npm run build:addon/);
  });

  it('checksums in TypeScript: a preprocess run (parse worker and part writer) records the XXH64 of every file and input', async () => {
    expect(nativeXxh64()).toBeNull();
    expect(createXxh64()).toBeInstanceOf(Xxh64Ts);
    const d = tmp();
    const input = path.join(d, 'in.tsv');
    const hex = (i: number, f: number) => ((Math.imul(i % (50 + f), 0x9e3779b1) ^ f) >>> 0).toString(16);
    const lines = Array.from({ length: 3000 }, (_, i) => [i % 3 === 0 ? 1 : 0, ...Array.from({ length: 13 }, (_, f) => (i * (f + 1)) % 97), ...Array.from({ length: 26 }, (_, f) => hex(i, f))].join('\t'));
    writeFileSync(input, lines.join('\n') + '\n');
    const out = path.join(d, 'out');
    const r = await run({ inputs: [input], out, options: { split: 'kaggle', rowsPerShard: 700 }, parallel: true }, { progress: quietSink });
    const ts = (b: Uint8Array) => {
      const h = new Xxh64Ts();
      h.update(b);
      return h.digest();
    };
    expect(r.manifest.inputs[0]!.hash).toBe(ts(readFileSync(input)));
    expect(r.manifest.files.length).toBeGreaterThan(52);
    for (const f of r.manifest.files) expect(f.hash, f.path).toBe(ts(readFileSync(path.join(out, f.path))));
    await verifyFiles(out, r.manifest.files);
  });
});

