import { spawn, execFileSync } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { PreprocessOptions } from '../../datasets/preprocessed.js';
import { quietSink } from '../../pipeline/progress.js';
import { Rng } from '../../pipeline/rng.js';
import { run } from '../../stages/preprocess/index.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** A Criteo-like TSV of `rows` random lines (some cells empty). */
function randomTsv(rows: number, seed = 1): string {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let r = 0; r < rows; r++) {
    const f = [rng.float() < 0.25 ? '1' : '0'];
    for (let i = 0; i < 13; i++) f.push(rng.float() < 0.2 ? '' : String(rng.int(1000)));
    for (let i = 0; i < 26; i++) f.push(rng.float() < 0.1 ? '' : (rng.int(200 * (i + 1)) * 2654435761 >>> 0).toString(16).padStart(8, '0'));
    lines.push(f.join('\t'));
  }
  return lines.join('\n') + '\n';
}

const tmp = useTempDirs('hotcold-pre-atomic-');

const pre = (inputs: string[], out: string, options: Partial<PreprocessOptions> = {}, force = false) =>
  run({ inputs, out, options, force }, { progress: quietSink });

describe('preprocess output reuse', () => {
  it('reuses a finished output for the same inputs and options, and redoes it when either changes', async () => {
    const d = tmp();
    const input = join(d, 'in.tsv');
    writeFileSync(input, randomTsv(800));
    const out = join(d, 'out');
    const first = await pre([input], out, { rowsPerShard: 300 });
    expect(first.reused).toBe(false);
    const shard = join(out, first.manifest.splits.train.shards[0]!.file);
    const mtime = statSync(shard).mtimeMs;

    const again = await pre([input], out, { rowsPerShard: 300 });
    expect(again.reused).toBe(true);
    expect(again.manifest.createdAt).toBe(first.manifest.createdAt);
    expect(statSync(shard).mtimeMs).toBe(mtime);

    const forced = await pre([input], out, { rowsPerShard: 300 }, true);
    expect(forced.reused).toBe(false);

    const otherOpts = await pre([input], out, { rowsPerShard: 300, freqThreshold: 2 });
    expect(otherOpts.reused).toBe(false);
    expect(otherOpts.manifest.fingerprint).not.toBe(first.manifest.fingerprint);

    utimesSync(input, new Date(), new Date(Date.now() + 5000));
    const touched = await pre([input], out, { rowsPerShard: 300, freqThreshold: 2 });
    expect(touched.reused).toBe(false);
  });
});

describe('preprocess atomicity', () => {
  it('a run that fails midway (truncated .gz after a good file) leaves the earlier output intact and no partial output', async () => {
    const d = tmp();
    const out = join(d, 'out');
    const cut = join(d, 'day_1.gz');
    const HEAD = join(d, 'day_0.tsv');
    writeFileSync(HEAD, randomTsv(8000));
    const gz = gzipSync(readFileSync(HEAD));
    writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.6)));
    // a committed output from an earlier run with other options is there first
    const before = await pre([HEAD], out, { rowsPerShard: 1000 });
    expect(existsSync(join(out, 'manifest.json'))).toBe(true);
    const listing = readdirSync(out).sort();

    const e = await expectCode(pre([HEAD, cut], out, { split: 'days', rowsPerShard: 1000 }), 'truncated');
    expect(e.file).toBe(resolve(cut));
    // the committed output is untouched and still reusable; the failed run left nothing behind
    expect(readdirSync(out).sort()).toEqual(listing);
    expect(readdirSync(d).sort()).toEqual(['day_0.tsv', 'day_1.gz', 'out']);
    const again = await pre([HEAD], out, { rowsPerShard: 1000 });
    expect(again.reused).toBe(true);
    expect(again.manifest.fingerprint).toBe(before.manifest.fingerprint);
  });

  it('a killed run leaves no manifest; the next run completes', async () => {
    const d = tmp();
    const out = join(d, 'out');
    const fifo = join(d, 'stream.tsv');
    execFileSync('mkfifo', [fifo]);
    const lines = randomTsv(500);
    // the child runs only this stage (not the whole CLI), as `hotcold preprocess` would
    const script =
      `const { run } = await import(${JSON.stringify(join(ROOT, 'stages', 'preprocess', 'index.ts'))});` +
      `await run({ inputs: [${JSON.stringify(fifo)}], out: ${JSON.stringify(out)}, options: { rowsPerShard: 50 } });`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let done = false;
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => ((done = true), res(code))));
    // feed part of the input and keep the pipe open, so the child is mid-run
    const w = createWriteStream(fifo);
    w.on('error', () => {});
    w.write(lines);
    const deadline = Date.now() + 60_000;
    const partsDir = join(d, '.out.hotcold-new', '.parts'); // the run builds beside its --out
    try {
      while (!(existsSync(partsDir) && readdirSync(partsDir).length > 0)) {
        if (done || Date.now() > deadline) throw new Error(`child wrote no part; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      child.kill('SIGKILL');
      await exited;
      w.destroy();
    }
    expect(existsSync(join(out, 'manifest.json'))).toBe(false);
    expect(readdirSync(partsDir).length).toBeGreaterThan(0);

    // the leftovers do not fool the next run
    const input = join(d, 'in.tsv');
    writeFileSync(input, lines);
    const r = await pre([input], out, { rowsPerShard: 50 });
    expect(r.reused).toBe(false);
    expect(r.manifest.rowsRead).toBe(500);
    expect(existsSync(partsDir)).toBe(false);
    expect(readdirSync(d).filter((n) => n.startsWith('.'))).toEqual([]); // staging and the stale lock are gone
  });
});
