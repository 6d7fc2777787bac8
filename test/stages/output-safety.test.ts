/**
 * The reproductions of "never destroy what the user did not ask to destroy", each
 * now failing safely: foreign --out directories are left byte-identical, outputs
 * overlapping inputs are refused before anything is written, a second writer is
 * refused, a full disk gives a clean message and leaves the last committed output,
 * and a killed sweep takes its train jobs with it.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCriteo } from '../../datasets/criteo/reader.js';
import { PipelineError } from '../../pipeline/errors.js';
import { liveHolder, lockPath, readLock } from '../../pipeline/lock.js';
import { quietSink } from '../../pipeline/progress.js';
import { run as preprocess } from '../../stages/preprocess/index.js';
import { run as profile } from '../../stages/profile/index.js';
import { run as segregate } from '../../stages/segregate/index.js';
import { claimSweepDir } from '../../stages/sweep/index.js';
import { waitForLiveRuns, type TrainJob } from '../../stages/sweep/runner.js';
import { verifyCheckpoints } from '../../stages/train/checkpoint/tools.js';
import { resolveTrainConfig } from '../../stages/train/config.js';
import { train } from '../../stages/train/train.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'hotcold.js');
const SMALL = { model: { dim: 8, mlpBot: '13-32-8', mlpTop: '32-1' }, train: { batchSize: 128, epochs: 1, logEvery: 10 } };
const tmp = useTempDirs('hotcold-safety-');

/** Every file under `dir` with its bytes. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${n.name}` : n.name;
      if (n.isDirectory()) {
        out[`${r}/`] = '';
        walk(join(d, n.name), r);
      } else out[r] = readFileSync(join(d, n.name), 'latin1');
    }
  };
  walk(dir, '');
  return out;
}

function foreignDir(root: string): string {
  const v = join(root, 'v');
  mkdirSync(join(v, 'sub'), { recursive: true });
  writeFileSync(join(v, 'important.txt'), 'precious\n');
  writeFileSync(join(v, 'sub', 'notes.md'), '# mine\n');
  return v;
}

function tsv(rows: number, seed: number): string {
  const lines: string[] = [];
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) >>> 0);
  for (let r = 0; r < rows; r++) {
    const f = [String(next() % 4 === 0 ? 1 : 0)];
    for (let i = 0; i < 13; i++) f.push(String(next() % 500));
    for (let i = 0; i < 26; i++) f.push((next() % (50 * (i + 1))).toString(16).padStart(8, '0'));
    lines.push(f.join('\t'));
  }
  return `${lines.join('\n')}\n`;
}

let d: TrainData;
let prof: string;
beforeAll(async () => {
  d = makeTrainData({ trainRows: 3000, evalRows: 500 });
  prof = join(d.root, 'prof');
  await profile({ data: d.dataDir, out: prof, sampleRate: 0.5, seed: 1 }, { sink: quietSink });
});
afterAll(() => d.cleanup());

describe('a foreign --out directory is left byte-identical', () => {
  it('by preprocess, profile, segregate and train', async () => {
    const root = tmp();
    const v = foreignDir(root);
    const input = join(root, 'in.tsv');
    writeFileSync(input, tsv(200, 1));
    const before = snapshot(root);
    await expectCode(preprocess({ inputs: [input], out: v }, { progress: quietSink }), 'unsafe_output');
    await expectCode(profile({ data: d.dataDir, out: v, sampleRate: 0.5, seed: 1 }, { sink: quietSink }), 'unsafe_output');
    await expectCode(segregate({ data: d.dataDir, profile: prof, out: v, dim: 8, hotMem: 1024 }, { sink: quietSink }), 'unsafe_output');
    const e = await expectCode(train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out: v, quiet: true }), 'unsafe_output');
    expect(e.format()).toMatch(/not written by hotcold train .*--force-clean/s);
    expect(snapshot(root)).toEqual(before);
  });

  it('--force-clean replaces it', async () => {
    const v = foreignDir(tmp());
    const m = await train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out: v, quiet: true, forceClean: true });
    expect(m.test.rows).toBeGreaterThan(0);
    expect(existsSync(join(v, 'important.txt'))).toBe(false);
    expect(existsSync(join(v, 'metrics.json'))).toBe(true);
  });
});

describe('sweep directories', () => {
  it('a sweep refuses a foreign directory and one holding its raw input, and reuses its own', () => {
    const root = tmp();
    const v = foreignDir(root);
    const code = (fn: () => unknown): string => {
      try {
        (fn() as { release(): void }).release();
        return 'ok';
      } catch (e) {
        return (e as PipelineError).code;
      }
    };
    expect(code(() => claimSweepDir(v, []))).toBe('unsafe_output');
    writeFileSync(join(root, 'train.txt'), tsv(10, 1));
    expect(code(() => claimSweepDir(root, [join(root, 'train.txt')]))).toBe('unsafe_output');
    const own = join(root, 'sweep');
    mkdirSync(own);
    writeFileSync(join(own, 'sweep.json'), '{}');
    expect(code(() => claimSweepDir(own, []))).toBe('ok');
  });
});

describe('outputs never overlap inputs', () => {
  it('train --out = --data, inside --data, or around --data is refused before anything is written, with or without --resume', async () => {
    const before = snapshot(d.root);
    for (const out of [d.dataDir, join(d.dataDir, 'run'), d.root]) {
      for (const resume of [false, true]) {
        const e = await expectCode(train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out, quiet: true, resume }), 'unsafe_output');
        expect(e.message).toMatch(/--out .* (is the same directory as|lies inside|contains) --data/);
      }
    }
    const fae = resolveTrainConfig({ ...SMALL, mode: 'fae' });
    await expectCode(train({ config: fae, data: d.dataDir, hot: d.hotDir, out: join(d.hotDir, 'x'), quiet: true }), 'unsafe_output');
    await expectCode(
      train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out: join(d.root, 'ok'), quiet: true, checkpoint: { every: 5, everySec: 0, threshold: 0, fullEvery: 8, dir: d.dataDir } }),
      'unsafe_output',
    );
    expect(snapshot(d.root)).toEqual(before);
  });

  it('preprocess --out = the folder of its input, and profile/segregate --out = their inputs, are refused', async () => {
    const root = tmp();
    const input = join(root, 'train.txt');
    writeFileSync(input, tsv(200, 2));
    const before = snapshot(root);
    const e = await expectCode(preprocess({ inputs: [input], out: root }, { progress: quietSink }), 'unsafe_output');
    expect(e.message).toMatch(/contains --input .*train\.txt/);
    expect(snapshot(root)).toEqual(before);
    await expectCode(profile({ data: d.dataDir, out: d.dataDir, sampleRate: 0.5, seed: 1 }, { sink: quietSink }), 'unsafe_output');
    await expectCode(segregate({ data: d.dataDir, profile: prof, out: join(prof, 'seg'), dim: 8, hotMem: 1024 }, { sink: quietSink }), 'unsafe_output');
  });
});

describe('one writer per output directory', () => {
  it('a second train into a running train\'s --out is refused naming its pid; the first run finishes', async () => {
    const out = join(tmp(), 'run');
    const cfg = join(tmp(), 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ ...SMALL, train: { ...SMALL.train, epochs: 30 } }));
    const child = spawn(process.execPath, [BIN, 'train', '--config', cfg, '--data', d.dataDir, '--out', out, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    const deadline = Date.now() + 60_000;
    while (!readLock(lockPath(out)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readLock(lockPath(out))?.pid, err).toBe(child.pid);
    const e = await expectCode(train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out, quiet: true }), 'locked');
    expect(e.message).toMatch(new RegExp(`in use by pid ${child.pid} \\(hotcold train`));
    expect(await exited, err).toBe(0);
    expect(existsSync(join(out, 'metrics.json'))).toBe(true);
    expect(existsSync(lockPath(out))).toBe(false);
  }, 120_000);
});

describe('a sweep\'s jobs die with it', () => {
  it('SIGKILL of the process that launched a train job stops the job', async () => {
    const root = tmp();
    const out = join(root, 'run');
    const cfg = join(root, 'cfg.json');
    writeFileSync(cfg, JSON.stringify({ ...SMALL, train: { ...SMALL.train, epochs: 200 } }));
    // a stand-in for the sweep: launches one job with the sweep's launcher, then waits
    const script =
      `const { childLauncher } = await import(${JSON.stringify(join(ROOT, 'stages', 'sweep', 'runner.ts'))});` +
      `await childLauncher({ args: ['train', '--config', ${JSON.stringify(cfg)}, '--data', ${JSON.stringify(d.dataDir)}, '--out', ${JSON.stringify(out)}, '--quiet'], logFile: ${JSON.stringify(join(root, 'job.log'))} });`;
    const sweep = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: 'ignore' });
    const deadline = Date.now() + 60_000;
    let job = null as ReturnType<typeof readLock>;
    while (!(job = readLock(lockPath(out))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(job, existsSync(join(root, 'job.log')) ? readFileSync(join(root, 'job.log'), 'utf8') : 'no job log').not.toBeNull();
    sweep.kill('SIGKILL');
    const gone = Date.now() + 20_000;
    while (liveHolder(out) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(liveHolder(out)).toBeNull();
    // gone, or a zombie waiting for a reaper (its parent died): either way no longer running
    const state = (): string => {
      try {
        return readFileSync(`/proc/${job!.pid}/stat`, 'utf8').split(') ')[1]?.[0] ?? 'gone';
      } catch {
        return 'gone';
      }
    };
    while (!['gone', 'Z', 'X'].includes(state()) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(['gone', 'Z', 'X']).toContain(state());
    expect(readFileSync(join(root, 'job.log'), 'utf8')).toMatch(/parent sweep exited/);
  }, 120_000);

  it('a re-run waits for runs still held by live processes, then refuses', async () => {
    const root = tmp();
    const dir = join(root, 'runs', 'baseline-s1');
    mkdirSync(join(root, 'runs'), { recursive: true });
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    await new Promise((r) => sleeper.once('spawn', r));
    try {
      writeFileSync(lockPath(dir), JSON.stringify({ pid: sleeper.pid, host: (await import('node:os')).hostname(), startTicks: null, command: 'train', at: 'now' }));
      const job = { run: { id: 'baseline-s1', mode: 'baseline', params: {} }, dir, args: [], fingerprint: 'f' } as unknown as TrainJob;
      const lines: string[] = [];
      const e = await expectCode(waitForLiveRuns([job], (l) => lines.push(l), 0.3), 'locked');
      expect(lines.join('\n')).toMatch(new RegExp(`waiting for 1 run.*baseline-s1: pid ${sleeper.pid}`));
      expect(e.message).toMatch(/baseline-s1/);
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
      await waitForLiveRuns([job], () => undefined, 5); // a dead holder does not block
    } finally {
      sleeper.kill('SIGKILL');
    }
  });
});

/** Mount a small tmpfs (root only, where the machine allows); null otherwise. */
function mountTmpfs(dir: string, size: string): boolean {
  if (process.getuid?.() !== 0) return false;
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('a full disk', () => {
  const mnt = join('/tmp', `hotcold-tmpfs-${process.pid}`);
  let mounted = false;
  beforeAll(() => {
    mounted = mountTmpfs(mnt, '3m');
    if (!mounted) console.warn('output-safety: cannot mount a tmpfs here (needs root); the ENOSPC case is covered through /dev/full in test/pipeline/outdir.test.ts');
  });
  afterAll(() => {
    if (mounted) execFileSync('umount', ['-l', mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });

  it('preprocess: a clean io error, no partial output, the previous output intact', async (ctx) => {
    if (!mounted) ctx.skip();
    const root = tmp();
    const small = join(root, 'small.tsv');
    const big = join(root, 'big.tsv');
    writeFileSync(small, tsv(2000, 3));
    writeFileSync(big, tsv(60_000, 4));
    const out = join(mnt, 'pre');
    await preprocess({ inputs: [small], out }, { progress: quietSink });
    const before = snapshot(out);
    const e = await expectCode(preprocess({ inputs: [big], out }, { progress: quietSink }), 'io');
    expect(e.format()).toMatch(/no space left on device \(ENOSPC\)/);
    expect(e.format()).not.toMatch(/\n\s+at /); // no stack trace
    expect(readdirSync(mnt)).toEqual(['pre']); // staging removed
    expect(snapshot(out)).toEqual(before);
  });

  it('train: a clean io error naming the checkpoint directory', async (ctx) => {
    if (!mounted) ctx.skip();
    rmSync(join(mnt, 'pre'), { recursive: true, force: true });
    const filler = join(mnt, 'filler');
    writeFileSync(filler, Buffer.alloc(2_900_000)); // leave about 100 KiB
    try {
      const out = join(mnt, 'run');
      const e = await expectCode(
        train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out, quiet: true, checkpoint: { every: 2, everySec: 0, threshold: 0, fullEvery: 8 } }),
        'io',
      );
      expect(e.format()).toMatch(/(checkpoint|run output).*no space left on device \(ENOSPC\)/);
    } finally {
      rmSync(filler, { force: true });
    }
  });
});

describe('smaller things the issue listed', () => {
  it('checkpoint verify on a directory with no checkpoint fails and says so', async () => {
    const e = await expectCode(verifyCheckpoints(tmp()), 'not_found');
    expect(e.message).toMatch(/no committed checkpoint .*nothing to verify/);
  });

  it('a --set error names --set, not the config file', () => {
    let e: unknown;
    try {
      resolveTrainConfig({}, ['train.epochs=two'], 'configs/x.json');
    } catch (err) {
      e = err;
    }
    expect((e as PipelineError).format()).toMatch(/--set train\.epochs=two: train\.epochs/);
    expect((e as PipelineError).format()).not.toMatch(/configs\/x\.json/);
  });

  it('a corrupt .gz is called corrupt, a short one truncated', async () => {
    const root = tmp();
    const gz = gzipSync(Buffer.from(tsv(3000, 5)));
    const corrupt = Buffer.from(gz);
    for (let i = 200; i < 400; i++) corrupt[i] = corrupt[i]! ^ 0x5a;
    writeFileSync(join(root, 'bad.gz'), corrupt);
    writeFileSync(join(root, 'short.gz'), gz.subarray(0, gz.length >> 1));
    const drain = async (p: string): Promise<void> => {
      for await (const _ of readCriteo(p)) void _;
    };
    const c = await expectCode(drain(join(root, 'bad.gz')), 'bad_input');
    expect(c.message).toMatch(/corrupt/);
    const t = await expectCode(drain(join(root, 'short.gz')), 'truncated');
    expect(t.message).toMatch(/ends early/);
  });

  it('fall-back decisions reach log.jsonl and stderr under --quiet', async () => {
    const out = join(tmp(), 'run');
    const lines: string[] = [];
    await train({ config: resolveTrainConfig(SMALL), data: d.dataDir, out, quiet: true, resume: true, sink: { isTTY: false, write: (s) => lines.push(s) } });
    expect(lines.join('')).toMatch(/--resume: no checkpoint/);
    expect(readFileSync(join(out, 'log.jsonl'), 'utf8')).toMatch(/--resume: no checkpoint/);
  });
});
