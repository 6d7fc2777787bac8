import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { readCriteoFiles } from '../../datasets/criteo/parallel.js';
import { createBadLineLog } from '../../datasets/criteo/parse.js';
import type { ReadStats } from '../../datasets/criteo/reader.js';
import { PipelineError } from '../../pipeline/errors.js';

/** The real Criteo samples (../shared/data/criteo next to the repository, or $HOTCOLD_CRITEO_SAMPLES). */
const DATA = process.env.HOTCOLD_CRITEO_SAMPLES ?? resolve(import.meta.dirname, '..', '..', '..', 'shared', 'data', 'criteo');
const HAVE_SAMPLES = existsSync(join(DATA, 'kaggle-train-head-8000.tsv'));
const REAL = ['kaggle-train-head-8000.tsv', 'kaggle-stripped-trailing-tabs-1000.tsv', 'kaggle-header-200.csv'].map((f) => join(DATA, f));

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Every batch flattened to [file, label, dense..., cats..., present...] per row. */
async function collect(paths: string[], parallel: boolean, onBadLine: 'error' | 'skip' = 'error') {
  const stats: ReadStats[] = [];
  const badLines = createBadLineLog();
  const rows: number[][] = [];
  for await (const { file, batch: b } of readCriteoFiles(paths, { format: 'auto', onBadLine, badLines, parallel, batchRows: 1000 }, stats)) {
    for (let r = 0; r < b.rows; r++) {
      const row = [file, b.label[r]!];
      for (let f = 0; f < 13; f++) row.push(b.dense[f * b.capacity + r]!);
      for (let f = 0; f < 26; f++) row.push(b.catPresent[f * b.capacity + r] ? b.cats[f * b.capacity + r]! : -1);
      rows.push(row);
    }
  }
  return { rows, stats, badLines };
}

describe.skipIf(!HAVE_SAMPLES)('readCriteoFiles on a worker thread', () => {
  it('yields exactly what the in-thread reader yields, with the same stats', async () => {
    const seq = await collect(REAL, false);
    const par = await collect(REAL, true);
    expect(par.rows.length).toBe(9200);
    expect(par.rows).toEqual(seq.rows);
    expect(par.stats.map((s) => [s.rows, s.lines, s.hash, s.format])).toEqual(seq.stats.map((s) => [s.rows, s.lines, s.hash, s.format]));
  });

  it('carries located errors and skipped-line logs back from the worker', async () => {
    const d = mkdtempSync(join(tmpdir(), 'hotcold-par-'));
    dirs.push(d);
    const lines = readFileSync(REAL[0]!, 'latin1').split('\n').slice(0, 50);
    lines[6] = lines[6]!.replace(/^[01]/, 'x');
    const bad = join(d, 'bad.tsv');
    writeFileSync(bad, lines.join('\n'));
    let err: unknown;
    try {
      await collect([REAL[2]!, bad], true);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).format()).toMatch(new RegExp(`^${bad}:7: field label: 'x'`));
    const skipped = await collect([bad], true, 'skip');
    expect(skipped.badLines.count).toBe(1);
    expect(skipped.badLines.first[0]).toMatchObject({ file: bad, line: 7 });

    const cut = join(d, 'cut.gz');
    const gz = gzipSync(readFileSync(REAL[0]!));
    writeFileSync(cut, gz.subarray(0, gz.length >> 1));
    await expect(collect([cut], true)).rejects.toMatchObject({ code: 'truncated', file: cut });
  });
});
