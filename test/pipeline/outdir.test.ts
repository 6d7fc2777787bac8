import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSynced } from '../../pipeline/atomic.js';
import { PipelineError, escapeControl, badField } from '../../pipeline/errors.js';
import { ioError } from '../../pipeline/io-error.js';
import { acquireLock, lockPath, processStartTicks, readLock } from '../../pipeline/lock.js';
import { writeManifest, type ManifestBase } from '../../pipeline/manifest.js';
import { checkNoOverlap, claimDir, openStagedOutput, protectedReason } from '../../pipeline/outdir.js';
import { useTempDirs } from '../fixtures/temp.js';

const tmp = useTempDirs('hotcold-outdir-');

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof PipelineError) return `${e.code}: ${e.format()}`;
    throw e;
  }
  return 'ok';
}

/** Every file under `dir` with its contents, for "left byte-identical" checks. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, n.name);
      const r = rel ? `${rel}/${n.name}` : n.name;
      if (n.isDirectory()) {
        out[`${r}/`] = '';
        walk(p, r);
      } else out[r] = readFileSync(p, 'latin1');
    }
  };
  walk(dir, '');
  return out;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

/** A live process that is not us (holds a lock in the tests). */
async function liveProcess(): Promise<ChildProcess> {
  const c = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((r) => c.once('spawn', r));
  return c;
}

function writeLock(dir: string, pid: number, startTicks: number | null): void {
  writeFileSync(lockPath(dir), JSON.stringify({ pid, host: hostname(), startTicks, command: 'train', at: '2026-01-01T00:00:00.000Z' }));
}

describe('claiming an output directory', () => {
  it('refuses a non-empty directory it did not write, leaving it byte-identical', () => {
    const d = join(tmp(), 'v');
    mkdirSync(join(d, 'sub'), { recursive: true });
    writeFileSync(join(d, 'important.txt'), 'precious');
    writeFileSync(join(d, 'sub', 'more.bin'), '\x00\x01');
    const before = snapshot(dirname(d));
    const msg = code(() => claimDir({ dir: d, kind: 'train' }));
    expect(msg).toMatch(/^unsafe_output: --out .*v is not empty and was not written by hotcold train \(it holds important\.txt, sub\)/);
    expect(msg).toMatch(/--force-clean/);
    expect(snapshot(dirname(d))).toEqual(before); // no lock or marker left behind either
    expect(code(() => openStagedOutput({ dir: d, kind: 'preprocess' }, 'fp'))).toMatch(/^unsafe_output: .*not written by hotcold preprocess/);
    expect(snapshot(dirname(d))).toEqual(before);
  });

  it('refuses another stage\'s output, and replaces foreign contents only with --force-clean', () => {
    const root = tmp();
    const d = join(root, 'pre');
    mkdirSync(d);
    writeManifest(d, { magic: 'hotcold.preprocess', formatVersion: 1, createdAt: '', fingerprint: 'x', elapsedSec: 0, files: [] } as ManifestBase);
    expect(code(() => claimDir({ dir: d, kind: 'train' }))).toMatch(/holds the output of hotcold preprocess, not of hotcold train/);
    const v = join(root, 'v');
    mkdirSync(v);
    writeFileSync(join(v, 'old.txt'), 'x');
    const c = claimDir({ dir: v, kind: 'train', forceClean: true });
    c.release();
    expect(readdirSync(v)).toEqual(['.hotcold-output.json']);
    // its own earlier output is reusable without --force-clean, and an empty directory is fine
    claimDir({ dir: v, kind: 'train' }).release();
    const e = join(root, 'empty');
    mkdirSync(e);
    claimDir({ dir: e, kind: 'train' }).release();
  });

  it('never force-cleans /, home, the working directory or a directory containing them', () => {
    expect(protectedReason('/')).toMatch(/filesystem root/);
    expect(protectedReason(homedir())).toMatch(/home directory|working directory|checkout/);
    expect(protectedReason(process.cwd())).toMatch(/working directory|checkout/);
    expect(protectedReason(dirname(process.cwd()))).toMatch(/contains/);
    expect(protectedReason(tmp())).toBeNull();
    expect(code(() => claimDir({ dir: process.cwd(), kind: 'train', forceClean: true }))).toMatch(/--force-clean never cleans it/);
    expect(code(() => claimDir({ dir: '/', kind: 'train', forceClean: true }))).toMatch(/^unsafe_output: --out \/ is the filesystem root/);
  });

  it('refuses outputs that equal, contain or lie inside an input, after resolving symlinks', () => {
    const root = tmp();
    const data = join(root, 'data');
    mkdirSync(data);
    symlinkSync(data, join(root, 'alias'));
    const args = (out: string) => () => checkNoOverlap([{ flag: '--out', path: out }], [{ flag: '--data', path: data }]);
    expect(code(args(data))).toMatch(/--out .* is the same directory as --data/);
    expect(code(args(join(root, 'alias')))).toMatch(/is the same directory as --data/);
    expect(code(args(join(data, 'run')))).toMatch(/lies inside --data/);
    expect(code(args(join(root, 'alias', 'run')))).toMatch(/lies inside --data/);
    expect(code(args(root))).toMatch(/contains --data/);
    expect(code(args(join(root, 'other')))).toBe('ok');
    expect(code(args(`${data}2`))).toBe('ok'); // a sibling whose name starts alike is not inside
  });
});

describe('output directory locks', () => {
  it('a second writer is refused naming the live holder; a stale lock is taken over with a warning', async () => {
    const d = join(tmp(), 'run');
    const other = await liveProcess();
    writeLock(d, other.pid!, processStartTicks(other.pid!));
    expect(code(() => claimDir({ dir: d, kind: 'train' }))).toMatch(new RegExp(`^locked: .*run is in use by pid ${other.pid} \\(hotcold train`));
    expect(existsSync(d)).toBe(false); // refused before anything was written

    other.kill('SIGKILL');
    await new Promise((r) => other.once('exit', r));
    const warnings: string[] = [];
    const c = claimDir({ dir: d, kind: 'train', warn: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(new RegExp(`took over the lock .* from pid ${other.pid} .*no longer running`));
    expect(readLock(lockPath(d))?.pid).toBe(process.pid);
    c.release();
    expect(existsSync(lockPath(d))).toBe(false);
  });

  it('a reused pid (same pid, other start time) counts as stale', () => {
    const d = join(tmp(), 'run');
    const mine = processStartTicks(process.pid);
    if (mine === null) return; // no /proc here: start times cannot be compared
    writeLock(d, process.pid, mine + 12345);
    const warnings: string[] = [];
    acquireLock(d, 'train', (m) => warnings.push(m)).release();
    expect(warnings).toHaveLength(1);
  });

  it('the same process cannot take a lock twice', () => {
    const d = join(tmp(), 'run');
    const l = acquireLock(d, 'train', () => undefined);
    expect(code(() => acquireLock(d, 'sweep', () => undefined))).toMatch(/already in use by this process/);
    l.release();
  });
});

describe('staged outputs', () => {
  it('recovers a commit that a crash interrupted between its two renames', () => {
    const root = tmp();
    const final = join(root, 'prof');
    const staged = join(root, '.prof.hotcold-new');
    mkdirSync(staged);
    writeFileSync(join(staged, 'counts.bin'), 'new');
    writeManifest(staged, { magic: 'hotcold.profile', formatVersion: 1, createdAt: '', fingerprint: 'new', elapsedSec: 0, files: [] } as ManifestBase);
    mkdirSync(join(root, '.prof.hotcold-old')); // the previous output, moved aside
    const o = openStagedOutput({ dir: final, kind: 'profile' }, 'new');
    expect(o.reused?.fingerprint).toBe('new');
    expect(readdirSync(root)).toEqual(['prof']);
  });

  it('abort removes the partial output and keeps the committed one', () => {
    const root = tmp();
    const final = join(root, 'prof');
    const a = openStagedOutput<ManifestBase>({ dir: final, kind: 'profile' }, 'one');
    writeFileSync(join(a.dir, 'x'), '1');
    a.commit({ magic: 'hotcold.profile', formatVersion: 1, createdAt: '', fingerprint: 'one', elapsedSec: 0, files: [] });
    const b = openStagedOutput<ManifestBase>({ dir: final, kind: 'profile' }, 'two');
    writeFileSync(join(b.dir, 'y'), '2');
    b.abort();
    expect(readdirSync(root)).toEqual(['prof']);
    expect(readdirSync(final).sort()).toEqual(['manifest.json', 'x']);
  });
});

describe('I/O errors and echoed input', () => {
  it('a full disk surfaces as a located io error (ENOSPC through /dev/full)', () => {
    if (!existsSync('/dev/full')) return;
    const d = tmp();
    const p = join(d, 'shard.arrow');
    symlinkSync('/dev/full', p);
    let err: unknown;
    try {
      writeFileSynced(p, new Uint8Array(1 << 16));
    } catch (e) {
      err = ioError(e, 'write shard', p);
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('io');
    expect((err as PipelineError).format()).toMatch(/shard\.arrow: write shard failed: no space left on device \(ENOSPC\)/);
  });

  it('control characters in echoed input are shown escaped', () => {
    expect(escapeControl('a\x1b[2Jb\x07')).toBe('a\\x1b[2Jb\\x07');
    const e = badField('f.tsv', 3, 'C7', '\x1b]0;pwned\x07', 'hex');
    expect(e.format()).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(e.format()).toContain("'\\x1b]0;pwned\\x07'");
  });
});
