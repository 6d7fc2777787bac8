import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import { quietSink } from '../../pipeline/progress.js';
import { register } from '../../datasets/synthetic/cli.js';
import { generateToFile, readSidecar, sidecarPath } from '../../datasets/synthetic/file.js';
import { generateRows } from '../../datasets/synthetic/generator.js';

const dir = mkdtempSync(join(tmpdir(), 'hotcold-synth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('generateToFile and the sidecar', () => {
  const out = join(dir, 'a', 'synth.tsv');
  const opts = { rows: 9000, seed: 5, days: 3, drift: 0.2, out, progress: quietSink };

  it('writes the TSV (same bytes as the stream) and a complete sidecar, leaving no temp file', async () => {
    const { sidecar: s, reused } = await generateToFile(opts);
    expect(reused).toBe(false);
    const tsv = readFileSync(out);
    expect(tsv.equals(Buffer.concat([...generateRows(opts)]))).toBe(true);
    expect(readdirSync(join(dir, 'a')).sort()).toEqual(['synth.tsv', 'synth.tsv.json']);

    const j = readSidecar(out);
    expect(j).toEqual(JSON.parse(JSON.stringify(s)));
    expect(j.magic).toBe('hotcold.generate');
    expect(j.formatVersion).toBe(1);
    expect([j.rows, j.seed, j.days, j.drift, j.scale]).toEqual([9000, 5, 3, 0.2, 0.01]);
    expect(j.bytes).toBe(tsv.length);
    expect(tsv.toString().split('\n')).toHaveLength(9001);
    expect(j.cardinalities).toHaveLength(26);
    expect(j.distinct.every((d, f) => d >= 1 && d <= j.cardinalities[f]!)).toBe(true);
    const labels = tsv
      .toString()
      .split('\n')
      .filter((l) => l.startsWith('1\t')).length;
    expect(j.ctr).toBeCloseTo(labels / 9000, 10);
    expect(j.missing.cat).toHaveLength(26);
    expect(j.missing.int).toHaveLength(13);
    for (const m of [j.bayes, j.bayesTest, j.bayesVal]) {
      expect(m.auc).toBeGreaterThan(0.5);
      expect(m.logloss).toBeGreaterThan(0);
      expect(m.accuracy).toBeGreaterThan(0.5);
    }
    expect(j.perDay.map((d) => d.rows)).toEqual([3000, 3000, 3000]);
    expect(j.model.interactions.length).toBeGreaterThan(0);
  });

  it('reuses an up-to-date output, and regenerates on --force or other options', async () => {
    const before = statSync(out).mtimeMs;
    const again = await generateToFile(opts);
    expect(again.reused).toBe(true);
    expect(statSync(out).mtimeMs).toBe(before);
    expect((await generateToFile({ ...opts, force: true })).reused).toBe(false);
    const other = await generateToFile({ ...opts, seed: 6 });
    expect(other.reused).toBe(false);
    expect(other.sidecar.seed).toBe(6);
  });

  it('regenerates when the TSV was truncated after the sidecar was written', async () => {
    writeFileSync(out, 'truncated\n');
    const r = await generateToFile({ ...opts, seed: 6 });
    expect(r.reused).toBe(false);
    expect(statSync(out).size).toBe(r.sidecar.bytes);
  });

  it('refuses a sidecar of another kind with a bad_manifest error', () => {
    const other = join(dir, 'other.tsv');
    writeFileSync(sidecarPath(other), JSON.stringify({ magic: 'something.else', formatVersion: 1 }));
    expect(() => readSidecar(other)).toThrow(PipelineError);
    expect(() => readSidecar(join(dir, 'missing.tsv'))).toThrow(/sidecar not found/);
  });
});

describe('hotcold generate (command line)', () => {
  it('parses the options and writes the files', async () => {
    const program = new Command().exitOverride();
    register(program);
    const out = join(dir, 'cli', 'x.tsv');
    await program.parseAsync(['generate', '--rows', '2000', '--seed', '3', '--out', out, '--scale', '0.001', '--days', '2', '--quiet'], {
      from: 'user',
    });
    const s = readSidecar(out);
    expect([s.rows, s.seed, s.scale, s.days, s.targetCtr]).toEqual([2000, 3, 0.001, 2, 0.25]);
  });

  it('rejects an out-of-range option before doing any work', async () => {
    const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    register(program);
    await expect(
      program.parseAsync(['generate', '--rows', '10', '--out', join(dir, 'y.tsv'), '--drift', '2'], { from: 'user' }),
    ).rejects.toThrow(/--drift must be a number in \[0, 1\]/);
  });
});
