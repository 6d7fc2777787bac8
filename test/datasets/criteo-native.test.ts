/**
 * The native parse addon (native/parse) against its TypeScript twins: the same
 * batches bit for bit (dense as float64 bits, NaN included), the same line and
 * bad-line counts and messages, the same hash-table ids and counts, and a
 * byte-identical preprocess output. Skips with a message when the addon is not built.
 */
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createRowBatch, type RowBatch } from '../../datasets/criteo/batch.js';
import { U32IndexTable } from '../../datasets/criteo/id-table.js';
import { loadParseAddon, resolveParser } from '../../datasets/criteo/native.js';
import { createBadLineLog } from '../../datasets/criteo/parse.js';
import { newReadStats, readCriteo, type ReadOptions } from '../../datasets/criteo/reader.js';
import { Rng } from '../../pipeline/rng.js';
import { quietSink } from '../../pipeline/progress.js';
import { run } from '../../stages/preprocess/index.js';
import { verifyFiles } from '../../pipeline/manifest.js';
import { logDenseBatch } from '../../stages/preprocess/ops/log-dense.js';
import { useTempDirs } from '../fixtures/temp.js';

const DATA = process.env.HOTCOLD_CRITEO_SAMPLES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'criteo');
const REAL = ['kaggle-train-head-8000.tsv', 'kaggle-stripped-trailing-tabs-1000.tsv', 'kaggle-header-200.csv'].map((n) => join(DATA, n));
const HAVE_SAMPLES = REAL.every((p) => existsSync(p));
const { addon, error } = loadParseAddon();
if (!addon) console.warn(`criteo-native tests skipped: the parse addon is not built (${error}); run \`npm run build:addon\``);

const tmp = useTempDirs('hotcold-native-');

/** Everything a read yields that the output depends on, as comparable plain data. */
interface ReadResult {
  rows: number[][];
  stats: ReturnType<typeof newReadStats>;
  log: ReturnType<typeof createBadLineLog>;
  error: string | null;
}

function rowsOf(b: RowBatch): number[][] {
  const bits = new BigUint64Array(b.dense.buffer, b.dense.byteOffset, b.dense.length);
  const out: number[][] = [];
  for (let r = 0; r < b.rows; r++) {
    const row: number[] = [b.label[r]!];
    // dense compared as float64 bit patterns (NaN payloads, -0 included)
    for (let f = 0; f < 13; f++) row.push(Number(bits[f * b.capacity + r]! >> 32n), Number(bits[f * b.capacity + r]! & 0xffffffffn));
    for (let f = 0; f < 26; f++) row.push(b.catPresent[f * b.capacity + r] ? b.cats[f * b.capacity + r]! : -1);
    out.push(row);
  }
  return out;
}

async function readWith(path: string, parser: 'ts' | 'native', opts: ReadOptions = {}): Promise<ReadResult> {
  const stats = newReadStats();
  const log = createBadLineLog();
  const rows: number[][] = [];
  let error: string | null = null;
  try {
    for await (const b of readCriteo(path, { ...opts, parser, badLines: log }, stats)) rows.push(...rowsOf(b));
  } catch (e) {
    const pe = e as Error & { file?: string; line?: number; field?: string };
    error = `${pe.file}:${pe.line}: ${pe.field}: ${pe.message}`;
  }
  return { rows, stats, log, error };
}

async function expectSameRead(path: string, opts: ReadOptions = {}): Promise<ReadResult> {
  const ts = await readWith(path, 'ts', opts);
  const nat = await readWith(path, 'native', opts);
  expect(nat.error).toBe(ts.error);
  expect(nat.rows.length).toBe(ts.rows.length);
  expect(nat.rows).toEqual(ts.rows);
  expect(nat.stats).toEqual(ts.stats);
  expect(nat.log).toEqual(ts.log);
  return ts;
}

const HEX = '0123456789abcdefABCDEF';

/** A random Criteo-ish line with the awkward cases mixed in. */
function randomLine(rng: Rng, delim: string): string {
  const f: string[] = [];
  const u = () => rng.float();
  f.push(u() < 0.95 ? (u() < 0.5 ? '0' : '1') : ['1.0', '0.0', '2', '-0', '0.5', '', 'x', '01'][Math.floor(u() * 8)]!);
  for (let i = 0; i < 13; i++) {
    const k = u();
    if (k < 0.2) f.push('');
    else if (k < 0.75) f.push(String(Math.floor(u() ** 3 * 3000)));
    else if (k < 0.82) f.push(String(-Math.floor(u() * 5)));
    else if (k < 0.88) f.push(`${Math.floor(u() * 400)}.${Math.floor(u() * 100)}`);
    else if (k < 0.92) f.push(String(Math.floor(u() * 1e12)) + '123456789');
    else if (k < 0.94) f.push(['-', '.', '1.', '.5', '-.5', '1e5', '12a', ' 3'][Math.floor(u() * 8)]!);
    else f.push(String(Math.floor(u() * 20000)));
  }
  for (let i = 0; i < 26; i++) {
    const k = u();
    if (k < 0.12) f.push('');
    else if (k < 0.9) f.push(Array.from({ length: 8 }, () => HEX[Math.floor(u() * 16)]).join(''));
    else if (k < 0.95) f.push(Array.from({ length: 1 + Math.floor(u() * 7) }, () => HEX[Math.floor(u() * HEX.length)]).join(''));
    else if (k < 0.97) f.push(Array.from({ length: 8 }, () => HEX[Math.floor(u() * HEX.length)]).join(''));
    else if (k < 0.985) f.push(['123456789', 'zz12', 'g0000000', '0000000g', '1234567 ', '-1', 'ffffffff', 'FFFFFFFF'][Math.floor(u() * 8)]!);
    else f.push('\x80\xff12345'.slice(0, 1 + Math.floor(u() * 7)));
  }
  // missing trailing fields, one too many
  const k = u();
  if (k < 0.05) f.length = 1 + Math.floor(u() * 39);
  else if (k < 0.07) f.push('extra');
  return f.join(delim);
}

function randomFile(rng: Rng, lines: number, delim: string): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const k = rng.float();
    if (k < 0.02) out.push('');
    out.push(randomLine(rng, delim) + (k > 0.9 ? '\r' : ''));
  }
  return out.join('\n') + (rng.float() < 0.5 ? '\n' : '');
}

describe.skipIf(!addon)('native parse addon = TypeScript parser', () => {
  it('resolveParser: ts → null, native/auto → the addon', () => {
    expect(resolveParser('ts')).toBeNull();
    expect(resolveParser('native')).toBe(addon);
    expect(resolveParser('auto')).toBe(addon);
  });

  it.skipIf(!HAVE_SAMPLES)('the real Criteo samples: same rows, counts and hashes (also with lines split across tiny chunks)', async () => {
    for (const p of REAL) {
      const r = await expectSameRead(p, { batchRows: 777 });
      expect(r.error).toBeNull();
      expect(r.rows.length).toBeGreaterThan(100);
      await expectSameRead(p, { chunkBytes: 97, batchRows: 64 });
    }
  });

  it('random lines with bad fields, CRLF, blank and short lines, decimals, 260.0: same under skip and error', async () => {
    const d = tmp();
    const rng = new Rng(11);
    for (let t = 0; t < 6; t++) {
      const csv = t % 3 === 2;
      const header = csv ? ['label', ...Array.from({ length: 13 }, (_, i) => `I${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `C${i + 1}`)].join(',') + '\n' : '';
      const p = join(d, `r${t}.${csv ? 'csv' : 'tsv'}`);
      writeFileSync(p, header + randomFile(rng, 2000, csv ? ',' : '\t'), 'latin1');
      const skip = await expectSameRead(p, { onBadLine: 'skip', batchRows: 500 + t * 300 });
      expect(skip.log.count).toBeGreaterThan(0);
      expect(skip.rows.length).toBeGreaterThan(700);
      await expectSameRead(p, { onBadLine: 'skip', chunkBytes: 1000 + t, batchRows: 97 });
      const strict = await expectSameRead(p, { onBadLine: 'error' });
      expect(strict.error).toMatch(/:\d+: .*(is not|too many fields)/);
    }
  });

  it('unlabelled lines (39 fields, Kaggle test.txt), the Id column (Kaggle CSV) and both: same rows, counts and messages natively', async () => {
    expect(addon!.version).toBeGreaterThanOrEqual(2);
    const d = tmp();
    const rng = new Rng(29);
    const names = [...Array.from({ length: 13 }, (_, i) => `I${i + 1}`), ...Array.from({ length: 26 }, (_, i) => `C${i + 1}`)];
    for (const [t, v] of (['unlabelled-tsv', 'unlabelled-id-csv', 'labelled-id-csv'] as const).entries()) {
      const csv = v !== 'unlabelled-tsv';
      const delim = csv ? ',' : '\t';
      const labelled = v === 'labelled-id-csv';
      const lines = randomFile(rng, 3000, delim).split('\n').map((l, i) => {
        if (l === '' || l === '\r') return l;
        const f = l.split(delim);
        if (!labelled) f.shift();
        // the label sniff reads the first 1000 lines: none of them may look labelled (40 fields)
        if (!labelled && i < 1500 && f.length >= 40) f.length = 39;
        return (csv ? [`${6e7 + i}`, ...f] : f).join(delim);
      });
      const header = csv ? ['Id', ...(labelled ? ['Label'] : []), ...names].join(',') + '\n' : '';
      const p = join(d, `${v}.${csv ? 'csv' : 'txt'}`);
      writeFileSync(p, header + lines.join('\n'), 'latin1');
      const labels = labelled ? 'auto' : 'absent';
      const skip = await expectSameRead(p, { onBadLine: 'skip', batchRows: 400 + 100 * t, labels });
      expect(skip.error).toBeNull();
      expect(skip.stats.labelled).toBe(labelled);
      expect(skip.rows.length).toBeGreaterThan(1000);
      expect(skip.log.count).toBeGreaterThan(0);
      if (!labelled) expect(skip.rows.every((r) => r[0] === 0)).toBe(true);
      await expectSameRead(p, { onBadLine: 'skip', chunkBytes: 777, batchRows: 61, labels });
      const strict = await expectSameRead(p, { onBadLine: 'error', labels });
      expect(strict.error).toMatch(/:\d+: .*(is not|too many fields)/);
    }
  });

  it.skipIf(!HAVE_SAMPLES)('the real Kaggle head without its label column: the native read equals the TS read and the labelled rows', async () => {
    const d = tmp();
    const src = readFileSync(REAL[0]!, 'latin1').split('\n').filter((l) => l !== '');
    const p = join(d, 'test.txt');
    writeFileSync(p, src.map((l) => l.slice(l.indexOf('\t') + 1)).join('\n') + '\n', 'latin1');
    const unl = await expectSameRead(p, { labels: 'auto', batchRows: 1000 });
    expect(unl.error).toBeNull();
    expect(unl.stats.labelled).toBe(false);
    const lab = await readWith(REAL[0]!, 'native');
    expect(unl.rows).toEqual(lab.rows.map((r) => [0, ...r.slice(1)]));
  });

  it('well-formed lines with one awkward field in some (7-8 digit integers, 1-8 hex digits, CRLF, 39/41 fields, long lines), plain and gzipped: same rows and errors', async () => {
    const d = tmp();
    const rng = new Rng(23);
    const u = () => rng.float();
    const hex = (n: number) => Array.from({ length: n }, () => HEX[Math.floor(u() * HEX.length)]).join('');
    // one field at the edge of what the good-line loop takes or hands back
    const awkward = ['9999999', '12345678', '0000000', '-1', '1.5', '', 'ffffffff', 'FFFFFFFF', 'aBcDeF01', 'a', '123456789', 'zz', '\r', 'x'];
    const lines: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const f: string[] = [u() < 0.5 ? '0' : '1'];
      for (let j = 0; j < 13; j++) f.push(u() < 0.2 ? '' : String(Math.floor(u() ** 2 * 10 ** (1 + Math.floor(u() * 7)))));
      for (let j = 0; j < 26; j++) f.push(u() < 0.12 ? '' : hex(u() < 0.8 ? 8 : 1 + Math.floor(u() * 8)));
      if (u() < 0.3) f[Math.floor(u() * 40)] = awkward[Math.floor(u() * awkward.length)]!;
      const k = u();
      if (k < 0.03) f.length = 39;
      else if (k < 0.06) f.push('');
      // long lines too (past the fast path's span)
      if (u() < 0.02) f[39] = hex(8) + ' '.repeat(600);
      lines.push(f.join('\t') + (u() < 0.2 ? '\r' : ''));
    }
    const p = join(d, 'fast.tsv');
    writeFileSync(p, lines.join('\n') + '\n', 'latin1');
    for (const batchRows of [64, 1000, 16384]) {
      const r = await expectSameRead(p, { onBadLine: 'skip', batchRows });
      expect(r.rows.length).toBeGreaterThan(1500);
    }
    await expectSameRead(p, { onBadLine: 'skip', chunkBytes: 3001, batchRows: 333 });
    const strict = await expectSameRead(p, { onBadLine: 'error' });
    expect(strict.error).not.toBeNull();
    // the same lines gzipped (two members): the same rows as the plain file
    const gz = join(d, 'fast.tsv.gz');
    const text = Buffer.from(lines.join('\n') + '\n', 'latin1');
    const half = text.indexOf(10, text.length >> 1) + 1;
    writeFileSync(gz, Buffer.concat([gzipSync(text.subarray(0, half)), gzipSync(text.subarray(half))]));
    const z = await expectSameRead(gz, { onBadLine: 'skip', batchRows: 1000 });
    expect(z.rows).toEqual((await readWith(p, 'native', { onBadLine: 'skip', batchRows: 1000 })).rows);
  });

  it('a plain file parsed in place through its memory map = read into buffers: rows, hash, counts and errors, windows of any size', async () => {
    expect(addon!.version).toBeGreaterThanOrEqual(4);
    const d = tmp();
    const rng = new Rng(53);
    const p = join(d, 'mapped.tsv');
    // no final newline, blank and bad lines, > 64 KiB so page-sized windows advance and release
    writeFileSync(p, randomFile(rng, 3000, '\t').replace(/\n$/, ''), 'latin1');
    expect(statSync(p).size).toBeGreaterThan(6 << 16);
    // small map windows: the file is mapped in several (each from the unfinished line's 64 KiB boundary)
    const windows: ReadOptions[] = [{ chunkBytes: 4096, mapWindowBytes: 2 << 16 }, { chunkBytes: 20_000, batchRows: 300, mapWindowBytes: 3 << 16 }];
    for (const opts of [{}, { chunkBytes: 97, batchRows: 64 }, { chunkBytes: 4096, batchRows: 500 }, { chunkBytes: 65_536, batchRows: 16_384 }, ...windows] as ReadOptions[]) {
      const mapped = await readWith(p, 'native', { ...opts, onBadLine: 'skip' });
      const read = await readWith(p, 'native', { ...opts, onBadLine: 'skip', mmap: false });
      expect(mapped.error, JSON.stringify(opts)).toBeNull();
      expect(mapped.rows.length).toBeGreaterThan(1000);
      expect(mapped.rows).toEqual(read.rows);
      expect(mapped.stats).toEqual(read.stats);
      expect(mapped.log).toEqual(read.log);
      const strict = await readWith(p, 'native', { ...opts, onBadLine: 'error' });
      expect(strict.error).toMatch(/:\d+: /);
      expect(strict.error).toBe((await readWith(p, 'native', { ...opts, onBadLine: 'error', mmap: false })).error);
    }
  });

  it('mapFile / adviseMapped: a read-only view of the file, pages dropped by DONTNEED read again, other memory refused', () => {
    const d = tmp();
    const p = join(d, 'bytes.bin');
    const data = Buffer.alloc(3 * 4096 + 123);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31 + 7) & 255;
    writeFileSync(p, data);
    const map = addon!.mapFile!(p, 0, 1 << 30);
    expect(typeof map).not.toBe('number');
    const m = map as Buffer;
    expect(m.equals(data)).toBe(true);
    expect(addon!.adviseMapped!(m, 0, m.length, 1)).toBe(0);
    expect(addon!.adviseMapped!(m, 5, 9000, 0)).toBe(0);
    expect(m.equals(data)).toBe(true);
    // a window: from a page boundary, cut at the end of the file
    const w = addon!.mapFile!(p, 8192, 1 << 20) as Buffer;
    expect(w.equals(data.subarray(8192))).toBe(true);
    expect(addon!.mapFile!(p, 8192, 100)).toSatisfy((b: unknown) => Buffer.isBuffer(b) && b.equals(data.subarray(8192, 8292)));
    expect(addon!.mapFile!(p, 100, 4096)).toBe(-22); // not page-aligned
    expect(addon!.mapFile!(p, 4 * 4096, 4096)).toBe(-22); // past the end
    expect(addon!.mapFile!(p, 0, 2 ** 31)).toBe(-22); // more than 1 GiB at once
    expect(() => addon!.adviseMapped!(Buffer.alloc(8192), 0, 8192, 1)).toThrow(/not a mapFile buffer/);
    expect(() => addon!.adviseMapped!(m, 0, m.length + 1, 1)).toThrow(/outside/);
    writeFileSync(join(d, 'empty'), '');
    expect(addon!.mapFile!(join(d, 'empty'), 0, 4096)).toBe(-22);
    expect(addon!.mapFile!(join(d, 'missing'), 0, 4096)).toBe(-2);
  });

  it('the vector line path (AVX2, when the CPU has it) = the scalar loop, kernel to kernel: fields at every edge of its shape', () => {
    expect(['avx2', 'none']).toContain(addon!.simd);
    const scalar = addon!.parseLinesScalar!;
    const rng = new Rng(41);
    const u = () => rng.float();
    const hex = (n: number) => Array.from({ length: n }, () => HEX[Math.floor(u() * HEX.length)]).join('');
    // integer and categorical fields at the edges of the vector path (it takes 0-8 digits with a '-', 0-8 hex)
    const ints = ['', '0', '-0', '-', '7', '-7', '1234567', '12345678', '-12345678', '123456789', '00000000', '1.5', '+1', ' 1', '1a', '\x80'];
    const cats = ['', 'a', 'F', 'ffffffff', 'FFFFFFFF', 'aBcDeF01', '0000000', '123456789', 'g', '0000000g', '\x80\xff', ' 1'];
    const lines: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const f: string[] = [u() < 0.5 ? '0' : '1'];
      for (let j = 0; j < 13; j++) f.push(u() < 0.9 ? (u() < 0.2 ? '' : String(Math.floor(u() ** 2 * 10 ** (1 + Math.floor(u() * 8))) * (u() < 0.1 ? -1 : 1))) : ints[Math.floor(u() * ints.length)]!);
      for (let j = 0; j < 26; j++) f.push(u() < 0.93 ? (u() < 0.12 ? '' : hex(u() < 0.8 ? 8 : 1 + Math.floor(u() * 8))) : cats[Math.floor(u() * cats.length)]!);
      const k = u();
      if (k < 0.01) f.length = 39;
      else if (k < 0.02) f.push('');
      else if (k < 0.025) f[0] = '2';
      else if (k < 0.03) f[39] = hex(8) + ' '.repeat(1100); // past the vector path's span
      lines.push(f.join('\t') + (u() < 0.01 ? '\r' : ''));
      if (u() < 0.005) lines.push('');
    }
    const buf = Buffer.from(lines.join('\n') + '\n', 'latin1');
    for (const cap of [1, 7, 1000, 16384]) {
      const a = createRowBatch(cap);
      const b = createRowBatch(cap);
      let pa = 0;
      let pb = 0;
      let batches = 0;
      while (pa < buf.length) {
        const sa = new Int32Array(4);
        const sb = new Int32Array(4);
        pa = scalar(buf, pa, buf.length, 9, a.label, a.dense, a.cats, a.catPresent, cap, sa);
        pb = addon!.parseLines(buf, pb, buf.length, 9, b.label, b.dense, b.cats, b.catPresent, cap, sb);
        expect([pb, ...sb], `batch ${batches}, cap ${cap}`).toEqual([pa, ...sa]);
        a.rows = sa[0]!;
        b.rows = sb[0]!;
        expect(rowsOf(b)).toEqual(rowsOf(a));
        // a bad line: step over it as the TypeScript parser would
        if (sa[3]) pa = pb = buf.indexOf(10, pa) + 1;
        batches++;
      }
      expect(batches).toBeGreaterThan(cap === 16384 ? 0 : 3);
    }
  });

  it('U32IndexTable: same ids, counts, missing and growth as the TypeScript loop', () => {
    const rng = new Rng(5);
    const ts = new U32IndexTable(16, null);
    const nat = new U32IndexTable(16, addon);
    for (let b = 0; b < 40; b++) {
      const n = 1 + Math.floor(rng.float() * 3000);
      const base = Math.floor(rng.float() * 50);
      const vals = new Uint32Array(base + n);
      const present = new Uint8Array(base + n);
      const card = 10 ** (1 + Math.floor(rng.float() * 5));
      for (let i = 0; i < vals.length; i++) {
        vals[i] = Math.imul(Math.floor(rng.float() ** 2 * card) + 1, 0x85ebca6b) >>> 0;
        present[i] = rng.float() < 0.85 ? 1 : 0;
      }
      const o1 = new Int32Array(n + 7);
      const o2 = new Int32Array(n + 7);
      ts.mapAndCount(vals, present, base, n, o1, 7, 2);
      nat.mapAndCount(vals, present, base, n, o2, 7, 2);
      expect(o2).toEqual(o1);
    }
    expect(nat.size).toBe(ts.size);
    expect(nat.missing).toBe(ts.missing);
    expect(nat.capacity).toBe(ts.capacity);
    expect(nat.counts.slice(0, nat.size)).toEqual(ts.counts.slice(0, ts.size));
    expect(ts.size).toBeGreaterThan(10_000);
  });

  it('logDense: the same float32 bits as the TypeScript loop (table, NaN, negatives, -0, fractions, large, Infinity)', () => {
    const rng = new Rng(11);
    const cap = 5000;
    const batch = createRowBatch(cap);
    const special = [Number.NaN, -0, 0, -1, -3.5, 0.5, 1, 16383, 16384, 16385, 2 ** 31, 2 ** 53, 1e300, Infinity, -Infinity, 260.25];
    for (let i = 0; i < batch.dense.length; i++) {
      const u = rng.float();
      batch.dense[i] = u < 0.3 ? special[i % special.length]! : u < 0.8 ? Math.floor(rng.float() ** 3 * 20_000) : Math.floor(Math.exp(rng.float() * 25)) + (u < 0.9 ? 0 : rng.float());
    }
    for (const rows of [1, 7, cap]) {
      batch.rows = rows;
      const a = Array.from({ length: 13 }, () => new Float32Array(rows + 3));
      const b = Array.from({ length: 13 }, () => new Float32Array(rows + 3));
      logDenseBatch(a, 3, batch, null);
      logDenseBatch(b, 3, batch, addon);
      for (let f = 0; f < 13; f++) expect(new Uint32Array(b[f]!.buffer), `feature ${f}, ${rows} rows`).toEqual(new Uint32Array(a[f]!.buffer));
    }
  });

  it('preprocess writes byte-identical shards, vocabularies and manifests (xxh64 checksums included) with either parser and hasher, on one thread and with the worker', async () => {
    const d = tmp();
    const rng = new Rng(3);
    const gen = join(d, 'gen.tsv');
    // generated lines (with bad ones) + the real samples when present
    writeFileSync(gen, randomFile(rng, 6000, '\t'), 'latin1');
    const inputs = [gen, ...(HAVE_SAMPLES ? REAL : [])];
    for (const parallel of [false, true]) {
      const outs: string[] = [];
      for (const parser of ['ts', 'native'] as const) {
        const out = join(d, `out-${parser}-${parallel}`);
        // the TS run also checksums in TypeScript (as without the addon)
        if (parser === 'ts') process.env.HOTCOLD_HASH = 'ts';
        try {
          const r = await run({ inputs, out, options: { split: 'kaggle', onBadLine: 'skip', rowsPerShard: 4096 }, parallel, parser }, { progress: quietSink });
          for (const f of r.manifest.files) expect(f.hash, f.path).toMatch(/^xxh64:[0-9a-f]{16}$/);
          for (const i of r.manifest.inputs) expect(i.hash, i.path).toMatch(/^xxh64:[0-9a-f]{16}$/);
          await verifyFiles(out, r.manifest.files);
        } finally {
          delete process.env.HOTCOLD_HASH;
        }
        outs.push(out);
      }
      const files = (dir: string): string[] =>
        readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
          .sort();
      expect(files(outs[1]!)).toEqual(files(outs[0]!));
      for (const f of files(outs[0]!)) {
        const a = readFileSync(join(outs[0]!, f));
        const b = readFileSync(join(outs[1]!, f));
        if (f === 'manifest.json') {
          const strip = (x: Buffer) => JSON.stringify({ ...JSON.parse(x.toString()), createdAt: 0, elapsedSec: 0 });
          expect(strip(b)).toBe(strip(a));
        } else expect(b.equals(a), f).toBe(true);
      }
    }
  });
});
