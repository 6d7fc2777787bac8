import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CAT_FEATURE_COUNT } from '../../datasets/criteo/constants.js';
import { openProfile, readProfileCounts } from '../../datasets/profile.js';

import { MANIFEST_FILE } from '../../pipeline/manifest.js';
import { quietSink } from '../../pipeline/progress.js';
import { run as preprocess } from '../../stages/preprocess/index.js';
import { run } from '../../stages/profile/index.js';
import { SkipSampler } from '../../stages/profile/sampler.js';
import { randomSplit, readCriteoSample, removeDir, tempDir, writePreprocessedFixture } from '../fixtures/preprocessed.js';
import { expectCode } from '../fixtures/temp.js';

const SAMPLE = '/work/shared/data/criteo/kaggle-train-head-8000.tsv';
const SIZES = Array.from({ length: CAT_FEATURE_COUNT }, (_, t) => 5 + ((t * 37) % 300));
const io = { sink: quietSink };

describe('profile', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  it('at rate 1 counts every training lookup exactly (brute force)', async () => {
    const train = randomSplit(2500, SIZES, 7);
    const data = await writePreprocessedFixture(join(dir, 'data'), { sizes: SIZES, train, val: randomSplit(100, SIZES, 8), rowsPerShard: 700 });
    const m = await run({ data: join(dir, 'data'), out: join(dir, 'prof'), sampleRate: 1, seed: 1 }, io);
    expect(m.sampledRows).toBe(2500);
    expect(m.trainRows).toBe(2500);
    expect(m.data.fingerprint).toBe(data.fingerprint);
    const counts = readProfileCounts(join(dir, 'prof'), openProfile(join(dir, 'prof')));
    for (let t = 0; t < CAT_FEATURE_COUNT; t++) {
      const expected = new Uint32Array(SIZES[t]!);
      for (const id of train.cats[t]!) expected[id] = expected[id]! + 1;
      expect(counts[t]).toEqual(expected);
      expect(m.nonzeroRows[t]).toBe(expected.filter((v) => v > 0).length);
      expect(m.maxCount[t]).toBe(Math.max(...expected));
    }
  });

  it('samples reproducibly: same seed same counts, other seed other counts, independent of sharding', async () => {
    const train = randomSplit(4000, SIZES, 3);
    await writePreprocessedFixture(join(dir, 'a'), { sizes: SIZES, train, rowsPerShard: 1000 });
    await writePreprocessedFixture(join(dir, 'b'), { sizes: SIZES, train, rowsPerShard: 333 });
    const p = 0.2;
    const ma = await run({ data: join(dir, 'a'), out: join(dir, 'pa'), sampleRate: p, seed: 5 }, io);
    const mb = await run({ data: join(dir, 'b'), out: join(dir, 'pb'), sampleRate: p, seed: 5 }, io);
    const mc = await run({ data: join(dir, 'a'), out: join(dir, 'pc'), sampleRate: p, seed: 6 }, io);
    const ca = readProfileCounts(join(dir, 'pa'), ma);
    expect(readProfileCounts(join(dir, 'pb'), mb)).toEqual(ca);
    expect(readProfileCounts(join(dir, 'pc'), mc)).not.toEqual(ca);
    // each sampled input adds exactly one count to every table
    for (const c of ca) expect(c.reduce((s, v) => s + v, 0)).toBe(ma.sampledRows);
    // binomial(4000, 0.2): mean 800, sd ≈ 25
    expect(Math.abs(ma.sampledRows - 800)).toBeLessThan(6 * 25);
  });

  it('geometric skips give Bernoulli(p) samples and do not depend on chunking', () => {
    const p = 0.05;
    const whole = new SkipSampler(p, 9);
    const buf = new Int32Array(200_000);
    const n = whole.take(0, 200_000, buf);
    // binomial(200k, 0.05): mean 10000, sd ≈ 97
    expect(Math.abs(n - 10_000)).toBeLessThan(6 * 97);
    const chunked = new SkipSampler(p, 9);
    const got: number[] = [];
    const part = new Int32Array(7919);
    for (let base = 0; base < 200_000; base += 7919) {
      const k = chunked.take(base, Math.min(7919, 200_000 - base), part);
      for (let i = 0; i < k; i++) got.push(base + part[i]!);
    }
    expect(got).toEqual(Array.from(buf.subarray(0, n)));
    // gaps are geometric: P(gap = 0) = p
    let zeroGaps = 0;
    for (let i = 1; i < n; i++) if (buf[i]! - buf[i - 1]! === 1) zeroGaps++;
    expect(Math.abs(zeroGaps / (n - 1) - p)).toBeLessThan(0.01);
  });

  it('reuses an identical profile and recomputes when the options change', async () => {
    await writePreprocessedFixture(join(dir, 'data'), { sizes: SIZES, train: randomSplit(500, SIZES, 1) });
    const cfg = { data: join(dir, 'data'), out: join(dir, 'prof'), sampleRate: 0.5, seed: 2 };
    const m1 = await run(cfg, io);
    const m2 = await run(cfg, io);
    expect(m2.createdAt).toBe(m1.createdAt);
    const m3 = await run({ ...cfg, seed: 3 }, io);
    expect(m3.fingerprint).not.toBe(m1.fingerprint);
    expect(openProfile(cfg.out).seed).toBe(3);
  });

  it('counts the real Criteo sample exactly at rate 1', async () => {
    const s = readCriteoSample(SAMPLE);
    await writePreprocessedFixture(join(dir, 'data'), { sizes: s.sizes, train: s.train, val: s.val, test: s.test, rowsPerShard: 2000 });
    const m = await run({ data: join(dir, 'data'), out: join(dir, 'prof'), sampleRate: 1, seed: 1 }, io);
    expect(m.trainRows).toBe(6858); // 8000 rows: days of 1143 × 6 (+ 1142), days 0–5 train
    const counts = readProfileCounts(join(dir, 'prof'), m);
    // brute force on the raw strings
    for (let t = 0; t < CAT_FEATURE_COUNT; t++) {
      const byValue = new Map<string, number>();
      for (const row of s.trainRaw) byValue.set(row[t]!, (byValue.get(row[t]!) ?? 0) + 1);
      for (const [v, n] of byValue) expect(counts[t]![v === '' ? 0 : s.vocab[t]!.get(v)!]).toBe(n);
      expect(m.nonzeroRows[t]).toBe(byValue.size);
    }
    // the known skew of this sample: C9 = a73ee510 in most rows
    expect(counts[8]![s.vocab[8]!.get('a73ee510')!]! / m.trainRows).toBeGreaterThan(0.8);
  });

  it('profiles the output of the real preprocess stage on the Criteo sample', async () => {
    const pre = await preprocess({ inputs: [SAMPLE], out: join(dir, 'pre'), options: { rowsPerShard: 2500 } }, { progress: quietSink });
    const m = await run({ data: pre.dir, out: join(dir, 'prof'), sampleRate: 1, seed: 1 }, io);
    const s = readCriteoSample(SAMPLE);
    expect(m.trainRows).toBe(s.trainRaw.length);
    expect(m.data.fingerprint).toBe(pre.manifest.fingerprint);
    const counts = readProfileCounts(join(dir, 'prof'), m);
    // ids may be assigned in any order: compare the multiset of nonzero counts per table
    for (let t = 0; t < CAT_FEATURE_COUNT; t++) {
      const byValue = new Map<string, number>();
      for (const row of s.trainRaw) byValue.set(row[t]!, (byValue.get(row[t]!) ?? 0) + 1);
      const want = [...byValue.values()].sort((a, b) => a - b);
      const got = Array.from(counts[t]!).filter((v) => v > 0).sort((a, b) => a - b);
      expect(got).toEqual(want);
    }
  });

  it('rejects bad input with clear errors', async () => {
    await expectCode(run({ data: join(dir, 'none'), out: join(dir, 'p'), sampleRate: 0.1, seed: 1 }, io), 'not_found');
    await writePreprocessedFixture(join(dir, 'data'), { sizes: SIZES, train: randomSplit(50, SIZES, 1) });
    for (const rate of [0, -0.1, 1.5, Number.NaN]) {
      const e = await expectCode(run({ data: join(dir, 'data'), out: join(dir, 'p'), sampleRate: rate, seed: 1 }, io), 'bad_config');
      expect(e.message).toMatch(/sample-rate/);
    }
    rmSync(join(dir, 'data', MANIFEST_FILE));
    const e = await expectCode(run({ data: join(dir, 'data'), out: join(dir, 'p'), sampleRate: 0.1, seed: 1 }, io), 'bad_manifest');
    expect(e.message).toMatch(/no committed preprocess manifest/);
    expect(existsSync(join(dir, 'p', MANIFEST_FILE))).toBe(false);
  });

  it('refuses a shard id outside its table', async () => {
    const train = randomSplit(30, SIZES, 1);
    train.cats[4]![17] = SIZES[4]!; // one past the end
    await writePreprocessedFixture(join(dir, 'data'), { sizes: SIZES, train });
    const e = await expectCode(run({ data: join(dir, 'data'), out: join(dir, 'p'), sampleRate: 1, seed: 1 }, io), 'bad_input');
    expect(e.field).toBe('C5');
    expect(existsSync(join(dir, 'p', MANIFEST_FILE))).toBe(false);
  });
});
