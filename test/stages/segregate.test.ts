import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CAT_FEATURE_COUNT } from '../../datasets/criteo/constants.js';
import { openProfile, readProfileCounts } from '../../datasets/profile.js';
import { openSegregated, readHotMap, type SegregateManifest } from '../../datasets/segregated.js';
import { readShardFile, type ShardColumns } from '../../datasets/shards.js';

import { MANIFEST_FILE } from '../../pipeline/manifest.js';
import { quietSink } from '../../pipeline/progress.js';
import { run as profile } from '../../stages/profile/index.js';
import { budgetRows } from '../../stages/segregate/config.js';
import { run as segregate } from '../../stages/segregate/index.js';
import type { SegregateReportFull } from '../../stages/segregate/report.js';
import { randomSplit, removeDir, splitFromRows, tempDir, writePreprocessedFixture } from '../fixtures/preprocessed.js';
import { expectCode } from '../fixtures/temp.js';

const io = { sink: quietSink };
const T = CAT_FEATURE_COUNT;

/** All rows of a split of a segregated dir, concatenated. */
function readSplit(dir: string, m: SegregateManifest, which: 'hot' | 'cold'): { rows: number; cats: number[][]; label: number[]; dense0: number[] } {
  const cats: number[][] = [];
  const label: number[] = [];
  const dense0: number[] = [];
  for (const s of m.splits[which].shards) {
    const c: ShardColumns = readShardFile(join(dir, s.file));
    for (let r = 0; r < c.rows; r++) {
      cats.push(c.cats.map((col) => col[r]!));
      label.push(c.label[r]!);
      dense0.push(c.dense[0]![r]!);
    }
  }
  return { rows: cats.length, cats, label, dense0 };
}

/**
 * Hand-made data, every table of 6 rows. Row kinds:
 *   A: id 2 everywhere (5×)   C: id 3 everywhere (3×)   B: id 2 except C8 = 5 (1×)
 * Counts at rate 1: id 2 → 6 (5 in C8), id 3 → 3, C8 id 5 → 1.
 */
const A = Array<number>(T).fill(2);
const C = Array<number>(T).fill(3);
const B = A.map((v, t) => (t === 7 ? 5 : v));
const ROWS = [A, C, B, A, C, A, A, C, A];
const SMALL = Array<number>(T).fill(6);

describe('segregate', () => {
  let dir: string;
  let data: string;
  let prof: string;
  beforeEach(() => {
    dir = tempDir();
    data = join(dir, 'data');
    prof = join(dir, 'prof');
  });
  afterEach(() => removeDir(dir));

  async function handMade(): Promise<void> {
    await writePreprocessedFixture(data, { sizes: SMALL, train: splitFromRows(ROWS, ROWS.map((_, i) => i % 2)), rowsPerShard: 4 });
    await profile({ data, out: prof, sampleRate: 1, seed: 1 }, io);
  }

  it('an input is hot iff all 26 lookups are hot; hot ids remap and round-trip', async () => {
    await handMade();
    const out = join(dir, 'seg');
    const m = await segregate({ data, profile: prof, out, dim: 4, hotMinCount: 3, rowsPerShard: 2 }, io);
    // hot rows: ids 2 and 3 of every table; C8 id 5 (count 1) is cold → input B is cold
    expect(m.hotRowsPerTable).toEqual(Array(T).fill(2));
    expect(m.hotOffsets).toEqual(Array.from({ length: T + 1 }, (_, t) => 2 * t));
    const hot = readSplit(out, m, 'hot');
    const cold = readSplit(out, m, 'cold');
    const srcHot = ROWS.map((r, i) => ({ r, i })).filter((x) => x.r !== B);
    expect(hot.rows).toBe(8);
    expect(cold.rows).toBe(1);
    expect(cold.cats[0]).toEqual(B); // cold inputs keep the original ids
    expect(cold.label[0]).toBe(2 % 2);
    // hot inputs: source order kept, ids are hot indices grouped by table ascending row
    const map = readHotMap(out, m);
    for (let k = 0; k < hot.rows; k++) {
      const src = srcHot[k]!;
      expect(hot.label[k]).toBe(src.i % 2);
      for (let t = 0; t < T; t++) {
        const h = hot.cats[k]![t]!;
        expect(h).toBeGreaterThanOrEqual(m.hotOffsets[t]!);
        expect(h).toBeLessThan(m.hotOffsets[t + 1]!);
        expect(map.table[h]).toBe(t);
        expect(map.row[h]).toBe(src.r[t]); // hot index → (table, row) → the original id
      }
    }
    expect(m.splits.hot.shards.length).toBe(4); // 8 rows, 2 per shard
    expect(m.report.hotInputShare).toBeCloseTo(8 / 9, 12);
    expect(m.report.hotLookupShare).toBeCloseTo((9 * T - 1) / (9 * T), 12);

    // raise Λ: only id 2 is hot, so the id-3 inputs turn cold too
    const m4 = await segregate({ data, profile: prof, out: join(dir, 'seg4'), dim: 4, hotMinCount: 4 }, io);
    expect(m4.hotRows).toBe(T);
    expect(m4.report.hotInputs).toBe(5);
    expect(readSplit(join(dir, 'seg4'), m4, 'cold').cats).toEqual([C, B, C, C]);
  });

  it('memory budget: rows = floor(budget / (4·dim)), ties by table then row, capped at accessed rows', async () => {
    await handMade();
    expect(budgetRows(256 * 2 ** 20, 16)).toBe(4_194_304);
    expect(budgetRows(64 * 27 + 63, 16)).toBe(27);
    const segDir = (hotMem: number, allow = false): string => join(dir, `seg-${hotMem}-${allow}`);
    const seg = (hotMem: number, allow = false): Promise<SegregateManifest> =>
      segregate({ data, profile: prof, out: segDir(hotMem, allow), dim: 16, hotMem, allowZeroCount: allow }, io);
    // 26 rows: the 26 ids 2 (counts 6, and 5 in C8)
    const m26 = await seg(64 * 26 + 63);
    expect(m26.hotRows).toBe(26);
    expect(m26.report.hotTableBytes).toBe(26 * 64);
    expect(m26.report.hotInputs).toBe(5);
    // 27 rows: one of the 26 tied id-3 rows (count 3) joins: the lowest table, C1
    const m27 = await seg(64 * 27);
    expect(m27.hotRowsPerTable).toEqual([2, ...Array<number>(T - 1).fill(1)]);
    expect(readHotMap(segDir(64 * 27), m27).row[1]).toBe(3);
    // a huge budget holds only the 53 accessed rows, unless zero-count rows are allowed
    expect((await seg(2 ** 30)).hotRows).toBe(2 * T + 1);
    const all = await seg(2 ** 30, true);
    expect(all.hotRows).toBe(6 * T);
    expect(all.report.hotInputs).toBe(ROWS.length);
  });

  it('is deterministic: a re-run with other output dir gives byte-identical files', async () => {
    await writePreprocessedFixture(data, { sizes: Array<number>(T).fill(40), train: randomSplit(1500, Array<number>(T).fill(40), 4), rowsPerShard: 500 });
    await profile({ data, out: prof, sampleRate: 0.3, seed: 9 }, io);
    const a = await segregate({ data, profile: prof, out: join(dir, 'a'), dim: 8, hotMem: 32 * 300 }, io);
    const b = await segregate({ data, profile: prof, out: join(dir, 'b'), dim: 8, hotMem: 32 * 300 }, io);
    const bytes = (m: SegregateManifest): string[] => m.files.filter((f) => !f.path.endsWith('.png')).map((f) => `${f.path}:${f.sha256}`);
    expect(bytes(b)).toEqual(bytes(a));
    expect(a.hotRows).toBe(300);
  });

  it('report numbers match a brute-force computation', async () => {
    const sizes = Array.from({ length: T }, (_, t) => 3 + ((t * 53) % 120));
    const train = randomSplit(3000, sizes, 11);
    await writePreprocessedFixture(data, { sizes, train, rowsPerShard: 800 });
    await profile({ data, out: prof, sampleRate: 0.5, seed: 2 }, io);
    const dim = 16;
    const budget = 64 * 700 + 10;
    const out = join(dir, 'seg');
    const m = await segregate({ data, profile: prof, out, dim, hotMem: budget }, io);
    const counts = readProfileCounts(prof, openProfile(prof));

    // brute force: rank every (count, table, row), take the top k accessed rows
    const all: [number, number, number][] = [];
    counts.forEach((c, t) => c.forEach((v, r) => all.push([v, t, r])));
    all.sort((x, y) => y[0] - x[0] || x[1] - y[1] || x[2] - y[2]);
    const k = Math.min(Math.floor(budget / (4 * dim)), all.filter((x) => x[0] > 0).length);
    const hotSet = new Set(all.slice(0, k).map(([, t, r]) => `${t}:${r}`));
    const perTable = sizes.map((_, t) => all.slice(0, k).filter((x) => x[1] === t).length);
    let hotInputs = 0;
    let hotLookups = 0;
    for (let r = 0; r < 3000; r++) {
      let h = 0;
      for (let t = 0; t < T; t++) if (hotSet.has(`${t}:${train.cats[t]![r]!}`)) h++;
      hotLookups += h;
      if (h === T) hotInputs++;
    }
    expect(m.hotRows).toBe(k);
    expect(m.report.hotRowsPerTable).toEqual(perTable);
    expect(m.report.hotInputs).toBe(hotInputs);
    expect(m.report.coldInputs).toBe(3000 - hotInputs);
    expect(m.report.hotInputShare).toBeCloseTo(hotInputs / 3000, 12);
    expect(m.report.hotLookupShare).toBeCloseTo(hotLookups / (3000 * T), 12);
    expect(m.report.hotTableBytes).toBe(k * dim * 4);
    expect(hotInputs).toBeGreaterThan(0);
    expect(hotInputs).toBeLessThan(3000);

    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as SegregateReportFull;
    const total = all.reduce((s, x) => s + x[0], 0);
    const topSum = (n: number): number => all.slice(0, n).reduce((s, x) => s + x[0], 0);
    expect(rep.totalRows).toBe(all.length);
    expect(rep.sampledHotLookupShare).toBeCloseTo(topSum(k) / total, 12);
    expect(rep.skew.some((p) => p.rows === k)).toBe(true);
    for (const p of rep.skew) expect(p.lookups).toBe(topSum(p.rows));
    let p90 = 0;
    while (topSum(p90) < 0.9 * total) p90++;
    expect(rep.rowsToCover.p90).toBe(p90);
    // skew.csv holds the same points; the plots exist
    const csv = readFileSync(join(out, 'skew.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('rows,rowShare,lookups,lookupShare');
    expect(csv.length).toBe(rep.skew.length + 1);
    expect(readFileSync(join(out, 'skew.svg'), 'utf8').startsWith('<svg')).toBe(true);
    expect(readFileSync(join(out, 'skew.png')).subarray(1, 4).toString()).toBe('PNG');
  });

  it('reuses an identical output and rewrites when the selection changes', async () => {
    await handMade();
    const cfg = { data, profile: prof, out: join(dir, 'seg'), dim: 4, hotMinCount: 3 };
    const m1 = await segregate(cfg, io);
    expect((await segregate(cfg, io)).createdAt).toBe(m1.createdAt);
    const m2 = await segregate({ ...cfg, hotMinCount: 4 }, io);
    expect(m2.fingerprint).not.toBe(m1.fingerprint);
    expect(openSegregated(cfg.out).hotRows).toBe(T);
  });

  it('rejects bad input with clear errors', async () => {
    await handMade();
    const out = join(dir, 'seg');
    const base = { data, profile: prof, out, dim: 16 };
    let e = await expectCode(segregate({ ...base, hotMem: 63 }, io), 'bad_config');
    expect(e.message).toMatch(/holds no row.*64 bytes/);
    await expectCode(segregate({ ...base, hotMem: 1024, hotMinCount: 2 }, io), 'bad_config');
    await expectCode(segregate({ ...base, hotMinCount: 0 }, io), 'bad_config');
    await expectCode(segregate({ ...base, dim: 0, hotMem: 1024 }, io), 'bad_config');
    // a profile made from other data
    const other = join(dir, 'other');
    await writePreprocessedFixture(other, { sizes: SMALL, train: splitFromRows([A, A, C]) });
    e = await expectCode(segregate({ ...base, data: other, hotMem: 1024 }, io), 'mismatch');
    expect(e.message).toMatch(/other data/);
    // uncommitted data or profile
    await expectCode(segregate({ ...base, profile: other, hotMem: 1024 }, io), 'bad_manifest');
    rmSync(join(data, MANIFEST_FILE));
    e = await expectCode(segregate({ ...base, hotMem: 1024 }, io), 'bad_manifest');
    expect(e.message).toMatch(/no committed preprocess manifest/);
    expect(existsSync(join(out, MANIFEST_FILE))).toBe(false);
  });
});
