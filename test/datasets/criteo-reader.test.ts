import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { RowBatch } from '../../datasets/criteo/batch.js';
import { createBadLineLog } from '../../datasets/criteo/parse.js';
import { newReadStats, readCriteo, type ReadOptions, type ReadStats } from '../../datasets/criteo/reader.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';
import { Xxh64Ts } from '../../pipeline/xxh64.js';

/** the TypeScript XXH64 (the oracle of the reader's hash, native when built) */
function xxh64Ts(b: Uint8Array): string {
  const h = new Xxh64Ts();
  h.update(b);
  return h.digest();
}

/** The real Criteo samples (../shared/data/criteo next to the repository, or $HOTCOLD_CRITEO_SAMPLES). */
const DATA = process.env.HOTCOLD_CRITEO_SAMPLES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'criteo');
const HAVE_SAMPLES = existsSync(join(DATA, 'kaggle-train-head-8000.tsv'));
const REAL = ['kaggle-train-head-8000.tsv', 'kaggle-stripped-trailing-tabs-1000.tsv', 'kaggle-header-200.csv'];

const tmp = useTempDirs('hotcold-reader-');

/** A row as plain values: label, 13 dense (NaN = missing), 26 cats (-1 = missing). */
type Row = number[];

/** Independent oracle: split strings the slow way. */
function naiveRows(text: string): Row[] {
  const lines = text.split(/\r?\n/).filter((l) => l.length > 0);
  const delim = lines[0]!.includes('\t') ? '\t' : ',';
  if (lines[0]!.startsWith('label')) lines.shift();
  return lines.map((l) => {
    const f = l.split(delim);
    while (f.length < 40) f.push('');
    return f.map((s, i) => (i === 0 ? Number(s) : i <= 13 ? (s === '' ? NaN : Number(s)) : s === '' ? -1 : parseInt(s, 16)));
  });
}

async function readAll(path: string, opts: ReadOptions = {}, stats: ReadStats = newReadStats()): Promise<Row[]> {
  const rows: Row[] = [];
  for await (const b of readCriteo(path, opts, stats)) rows.push(...batchRows(b));
  return rows;
}

function batchRows(b: RowBatch): Row[] {
  const out: Row[] = [];
  for (let r = 0; r < b.rows; r++) {
    const row: Row = [b.label[r]!];
    for (let f = 0; f < 13; f++) row.push(b.dense[f * b.capacity + r]!);
    for (let f = 0; f < 26; f++) row.push(b.catPresent[f * b.capacity + r] ? b.cats[f * b.capacity + r]! : -1);
    out.push(row);
  }
  return out;
}

const GOOD = '0\t1\t2\t\t4\t5\t6\t7\t8\t9\t10\t11\t12\t13\t68fd1e64\t80e26c9b\t\t7b4723c4\t25c83c98\t7e0ccccf\tde7995b8\t1f89b562\ta73ee510\ta8cd5504\tb2cb9c98\t37c9c164\t2824a5f6\t1adce6ef\t8ba8b39a\t891b62e7\te5ba7672\tf54016b9\t21ddcdc9\tb1252a9d\t07b5194c\t\t3a171ecb\tc5c50484\te8b83407\t9727dd16';

function withField(line: string, index: number, value: string): string {
  const f = line.split('\t');
  f[index] = value;
  return f.join('\t');
}

describe.skipIf(!HAVE_SAMPLES)('Criteo reader on the real samples', () => {
  for (const name of REAL) {
    it(`${name}: every value matches a naive string parse`, async () => {
      const path = join(DATA, name);
      const text = readFileSync(path, 'latin1');
      const stats = newReadStats();
      const rows = await readAll(path, { batchRows: 777 }, stats);
      const want = naiveRows(text);
      expect(rows.length).toBe(want.length);
      expect(rows).toEqual(want);
      expect(stats.rows).toBe(want.length);
      expect(stats.lines).toBe(want.length);
      expect(stats.format).toBe(name.endsWith('.csv') ? 'csv' : 'tsv');
      expect(stats.hash).toBe(xxh64Ts(readFileSync(path)));
    });
  }

  it('reads the stripped-trailing-tabs file with short lines padded as missing', async () => {
    const rows = await readAll(join(DATA, 'kaggle-stripped-trailing-tabs-1000.tsv'));
    const text = readFileSync(join(DATA, 'kaggle-stripped-trailing-tabs-1000.tsv'), 'latin1').split('\n');
    const short = text.findIndex((l) => l.split('\t').length < 40);
    expect(short).toBeGreaterThanOrEqual(0);
    expect(rows[short]!.slice(-2)).toEqual([-1, -1]);
  });

  it('reads .gz versions of the samples identically and hashes the compressed bytes', async () => {
    const d = tmp();
    for (const name of REAL) {
      const gz = gzipSync(readFileSync(join(DATA, name)));
      const p = join(d, `${name}.gz`);
      writeFileSync(p, gz);
      const stats = newReadStats();
      expect(await readAll(p, {}, stats)).toEqual(await readAll(join(DATA, name)));
      expect(stats.gzip).toBe(true);
      expect(stats.bytes).toBe(gz.length);
      expect(stats.hash).toBe(xxh64Ts(gz));
    }
  });

  it('gives the same rows whatever the read chunk size (lines split across chunks)', async () => {
    const p = join(DATA, 'kaggle-stripped-trailing-tabs-1000.tsv');
    const stats = newReadStats();
    expect(await readAll(p, { chunkBytes: 97, batchRows: 64 }, stats)).toEqual(await readAll(p));
    // read-ahead: each byte hashed once, in order
    expect(stats.hash).toBe(xxh64Ts(readFileSync(p)));
  });

  it('carries an unfinished line longer than the read-ahead head room across chunks', async () => {
    // a 300 KB (bad) line spans many 4 KiB chunks: the carried-over text outgrows the 64 KiB head room
    const d = tmp();
    const p = join(d, 'long.tsv');
    const good = Array.from({ length: 50 }, (_, i) => withField(GOOD, 1, String(i))).join('\n');
    const text = `${good}\n${withField(GOOD, 20, 'f'.repeat(300_000))}\n${good}\n`;
    writeFileSync(p, text);
    const stats = newReadStats();
    const badLines = createBadLineLog();
    const rows = await readAll(p, { chunkBytes: 4096, batchRows: 16, onBadLine: 'skip', badLines }, stats);
    expect(rows).toEqual(naiveRows(`${good}\n${good}\n`));
    expect(badLines.count).toBe(1);
    expect(badLines.first[0]!.line).toBe(51);
    expect(stats.hash).toBe(xxh64Ts(Buffer.from(text)));
  });
});

describe('Criteo reader on edge cases', () => {
  it('accepts \\r\\n line ends, a missing final newline, and blank lines', async () => {
    const d = tmp();
    const p = join(d, 'crlf.tsv');
    writeFileSync(p, `${GOOD}\r\n\r\n${withField(GOOD, 0, '1')}`);
    const rows = await readAll(p);
    expect(rows.length).toBe(2);
    expect(rows[0]).toEqual(naiveRows(GOOD)[0]);
    expect(rows[1]![0]).toBe(1);
    expect(rows[1]![39]).toBe(0x9727dd16);
  });

  it('keeps hex values up to 0xFFFFFFFF unsigned and accepts short / upper-case hex', async () => {
    const d = tmp();
    const p = join(d, 'hex.tsv');
    writeFileSync(p, withField(withField(withField(GOOD, 14, 'FFFFFFFF'), 15, 'a'), 16, '0') + '\n');
    const [row] = await readAll(p);
    expect(row!.slice(14, 17)).toEqual([0xffffffff, 10, 0]);
  });

  it('parses CSV integers written as floats and negative integers', async () => {
    const d = tmp();
    const p = join(d, 'x.csv');
    const header = ['label', ...Array.from({ length: 13 }, (_, i) => `I${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `C${i + 1}`)].join(',');
    writeFileSync(p, `${header}\n${GOOD.replace(/\t/g, ',').replace(/^0,1,2/, '1,260.0,-2')}\n`);
    const [row] = await readAll(p);
    expect(row!.slice(0, 4)).toEqual([1, 260, -2, NaN]);
  });

  const BAD: [string, string, RegExp][] = [
    ['non-hex categorical', withField(GOOD, 20, 'zz12'), /:2: field C7: 'zz12' is not hex$/],
    ['9-digit categorical', withField(GOOD, 14, '123456789'), /:2: field C1: '123456789' is not 1-8 hex digits/],
    ['non-numeric integer', withField(GOOD, 3, '4x'), /:2: field I3: '4x' is not a number/],
    ['bad label', withField(GOOD, 0, '2'), /:2: field label: '2' is not 0 or 1/],
    ['too many fields', `${GOOD}\textra`, /:2: too many fields: 41/],
  ];
  for (const [what, line, msg] of BAD) {
    it(`rejects a line with a ${what}, naming file, line and field`, async () => {
      const d = tmp();
      const p = join(d, 'bad.tsv');
      writeFileSync(p, `${GOOD}\n${line}\n${GOOD}\n`);
      const e = await expectCode(readAll(p), 'bad_input');
      expect(e.file).toBe(p);
      expect(e.line).toBe(2);
      expect(e.format()).toMatch(msg);
      expect(e.format().startsWith(`${p}:2: `)).toBe(true);
    });
  }

  it('skips, counts and samples bad lines under onBadLine skip', async () => {
    const d = tmp();
    const p = join(d, 'bad.tsv');
    const lines = [GOOD, ...BAD.map((b) => b[1]), GOOD];
    writeFileSync(p, lines.join('\n'));
    const log = createBadLineLog();
    const stats = newReadStats();
    const rows = await readAll(p, { onBadLine: 'skip', badLines: log }, stats);
    expect(rows.length).toBe(2);
    expect(log.count).toBe(BAD.length);
    expect(stats.badLines).toBe(BAD.length);
    expect(stats.lines).toBe(lines.length);
    expect(log.first.map((b) => b.line)).toEqual([2, 3, 4, 5, 6]);
    expect(log.first[0]).toEqual({ file: p, line: 2, reason: "field C7: 'zz12' is not hex" });
  });

  it('keeps only the first 10 bad-line samples but counts all', async () => {
    const d = tmp();
    const p = join(d, 'many.tsv');
    writeFileSync(p, Array.from({ length: 25 }, (_, i) => (i % 2 ? GOOD : withField(GOOD, 0, 'x'))).join('\n'));
    const log = createBadLineLog();
    await readAll(p, { onBadLine: 'skip', badLines: log });
    expect(log.count).toBe(13);
    expect(log.first.length).toBe(10);
  });

  it('reports a truncated .gz as an error naming the file', async () => {
    const d = tmp();
    const p = join(d, 'cut.tsv.gz');
    const gz = gzipSync(Array.from({ length: 3000 }, (_, i) => withField(GOOD, 1, String(i))).join('\n'));
    writeFileSync(p, gz.subarray(0, Math.floor(gz.length / 2)));
    const e = await expectCode(readAll(p), 'truncated');
    expect(e.file).toBe(p);
    expect(e.format()).toContain(p);
  });

  it('reports empty inputs clearly: empty file, blank lines, header only', async () => {
    const d = tmp();
    const header = 'label,' + Array.from({ length: 13 }, (_, i) => `I${i + 1}`).join(',') + ',' + Array.from({ length: 26 }, (_, i) => `C${i + 1}`).join(',');
    for (const [name, text] of [
      ['empty.tsv', ''],
      ['blank.tsv', '\n\n\r\n'],
      ['header.csv', `${header}\n`],
    ] as const) {
      const p = join(d, name);
      writeFileSync(p, text);
      const e = await expectCode(readAll(p), 'empty_input');
      expect(e.file).toBe(p);
    }
  });

  it('rejects a CSV header that is not the Criteo columns', async () => {
    const d = tmp();
    const p = join(d, 'other.csv');
    writeFileSync(p, 'id,click,hour\n1,0,14102100\n');
    const e = await expectCode(readAll(p), 'bad_input');
    expect(e.message).toMatch(/not a Criteo file: looks like unknown: 3 columns, header id,click,hour/);
  });

  it('reports a missing file as not_found', async () => {
    await expectCode(readAll('/nonexistent/train.txt'), 'not_found');
  });
});
