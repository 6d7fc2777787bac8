/**
 * `npm run bench:readers`: raw-input reader throughput — everything `readCriteo` accepts, beside
 * the Criteo TSV path in the same invocation, on the same rows where the format allows:
 *
 *     Criteo TSV, native parser      the baseline (native/parse when built)
 *     Criteo TSV, TypeScript parser  --parser ts
 *     unlabelled TSV (39 fields)     Kaggle's test.txt shape: native parser and TypeScript parser
 *     Criteo-shaped Parquet          the same rows (label DOUBLE, I1..I6 DOUBLE, I7..I13 INT64,
 *                                    C1..C13 INT32, C14..C26 hex STRING; SNAPPY; 64Ki-row groups),
 *                                    hyparquet decoding in JavaScript
 *     Avazu CSV                      the shared 8,999-row sample repeated to the same row count
 *                                    (24 columns; a string-split parser); skipped without it
 *     Avazu test.csv                 the same without the click column (23 columns)
 *
 * Each run drains the reader (parse only: no vocabulary, no shards) and is timed in wall and CPU
 * seconds; the table gives medians over `--runs` interleaved runs, rows/s, MB/s of input bytes,
 * CPU-s per 1M rows and the ratio to the native TSV path, with the CPU and the load average.
 *
 *     npm run bench:readers [-- --rows 300000 --runs 3]
 */
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parquetWriteFile } from 'hyparquet-writer';
import { loadParseAddon } from '../datasets/criteo/native.js';
import { readCriteo, type ReadOptions } from '../datasets/criteo/reader.js';
import { generateToFile } from '../datasets/synthetic/index.js';
import { quietSink } from '../pipeline/progress.js';
import { arg, median } from './args.js';

const ROWS = Number(arg('rows', '300000'));
const RUNS = Number(arg('runs', '3'));
const AVAZU = resolve(import.meta.dirname, '..', '..', 'shared', 'data', 'avazu', 'avazu-train-head-8999.csv');
const log = (s: string): void => void process.stdout.write(`${s}\n`);
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ');

log(`bench:readers — ${cpus()[0]?.model ?? 'cpu'} × ${cpus().length}, load ${load()}; ${ROWS} rows, median of ${RUNS}`);
const dir = mkdtempSync(join(tmpdir(), 'hotcold-bench-readers-'));
try {
  const tsv = join(dir, 'criteo.tsv');
  await generateToFile({ rows: ROWS, seed: 11, out: tsv, progress: quietSink });
  const unl = join(dir, 'unlabelled.tsv');
  const pq = join(dir, 'criteo.parquet');
  const lines: string[] = [];
  for await (const l of createInterface({ input: createReadStream(tsv), crlfDelay: Infinity })) if (l.length > 0) lines.push(l);
  writeFileSync(unl, lines.map((l) => l.slice(l.indexOf('\t') + 1)).join('\n') + '\n');
  writeParquet(lines, pq);
  lines.length = 0;
  let avazu: string | null = null;
  if (existsSync(AVAZU)) {
    const [head, ...body] = readFileSync(AVAZU, 'utf8').trimEnd().split('\n');
    const out: string[] = [head!];
    for (let i = 0; out.length <= ROWS; i++) out.push(body[i % body.length]!);
    avazu = join(dir, 'avazu.csv');
    writeFileSync(avazu, out.join('\n') + '\n');
    writeFileSync(join(dir, 'avazu-test.csv'), out.map((l) => l.split(',').filter((_, i) => i !== 1).join(',')).join('\n') + '\n');
  }
  const native = loadParseAddon().addon !== null;
  const cases: { what: string; path: string; opts: ReadOptions }[] = [
    { what: `Criteo TSV, ${native ? 'native' : 'TypeScript (addon not built)'} parser`, path: tsv, opts: {} },
    { what: 'Criteo TSV, TypeScript parser', path: tsv, opts: { parser: 'ts' } },
    { what: `unlabelled TSV, 39 fields (${native ? 'native' : 'TypeScript (addon not built)'} parser)`, path: unl, opts: { labels: 'auto' } },
    { what: 'unlabelled TSV, 39 fields (TypeScript parser)', path: unl, opts: { labels: 'auto', parser: 'ts' } },
    { what: 'Criteo-shaped Parquet (hyparquet)', path: pq, opts: {} },
  ];
  if (avazu) {
    cases.push({ what: 'Avazu CSV (24 columns)', path: avazu, opts: {} });
    cases.push({ what: 'Avazu test.csv (23 columns, no click)', path: join(dir, 'avazu-test.csv'), opts: { labels: 'auto' } });
  }
  else log(`(Avazu skipped: ${AVAZU} not found)`);
  const wall = cases.map(() => [] as number[]);
  const cpu = cases.map(() => [] as number[]);
  for (let r = 0; r < RUNS; r++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      for await (const b of readCriteo(c.path, c.opts)) n += b.rows;
      wall[i]!.push((performance.now() - t0) / 1000);
      const u = process.cpuUsage(c0);
      cpu[i]!.push((u.user + u.system) / 1e6);
      if (n !== ROWS) throw new Error(`${c.what}: read ${n} rows, expected ${ROWS}`);
    }
  }
  log('| reader | input MB | rows/s (wall) | MB/s | CPU-s per 1M rows | wall vs native TSV |');
  log('|---|---|---|---|---|---|');
  const base = median(wall[0]!);
  for (let i = 0; i < cases.length; i++) {
    const w = median(wall[i]!);
    const mb = statSync(cases[i]!.path).size / 1e6;
    log(`| ${cases[i]!.what} | ${mb.toFixed(1)} | ${Math.round(ROWS / w)} | ${(mb / w).toFixed(1)} | ${((median(cpu[i]!) / ROWS) * 1e6).toFixed(2)} | ${(w / base).toFixed(2)}× |`);
  }
  log(`load after: ${load()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/** The TSV rows as Criteo-shaped Parquet (the layout of test/datasets/parquet-reader.test.ts). */
function writeParquet(lines: string[], out: string): void {
  const n = lines.length;
  const label = new Float64Array(n);
  const ints = Array.from({ length: 13 }, () => new Array<number | bigint | null>(n));
  const cats = Array.from({ length: 26 }, () => new Array<number | string | null>(n));
  for (let r = 0; r < n; r++) {
    const f = lines[r]!.split('\t');
    label[r] = Number(f[0]);
    for (let i = 0; i < 13; i++) {
      const v = f[1 + i] ?? '';
      ints[i]![r] = v === '' ? null : i < 6 ? Number(v) : BigInt(v);
    }
    for (let c = 0; c < 26; c++) {
      const v = f[14 + c] ?? '';
      cats[c]![r] = v === '' ? null : c < 13 ? parseInt(v, 16) | 0 : v;
    }
  }
  parquetWriteFile({
    filename: out,
    rowGroupSize: 1 << 16,
    columnData: [
      { name: 'label', data: Array.from(label), type: 'DOUBLE', nullable: false },
      ...ints.map((data, i) => ({ name: `I${i + 1}`, data, type: (i < 6 ? 'DOUBLE' : 'INT64') as 'DOUBLE' | 'INT64', nullable: true })),
      ...cats.map((data, c) => ({ name: `C${c + 1}`, data, type: (c < 13 ? 'INT32' : 'STRING') as 'INT32' | 'STRING', nullable: true })),
    ],
  });
}
