/**
 * The compiled command line (`npm run build`: tsc into dist/, then the esbuild bundle in
 * dist/bundle/; `npm ci` runs it through `prepare`): it starts, its help loads none of the heavy
 * modules, and a real train run with a checkpoint (its writer on a worker thread) works from both
 * the tsc output and the bundle. The tsc build here is incremental, so it is quick when dist/ is
 * current, and it never tests a stale build.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTrainData, type TrainData } from '../fixtures/train-data.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const DIST_BIN = join(ROOT, 'dist', 'bin', 'hotcold.js');
const BUNDLE_BIN = join(ROOT, 'dist', 'bundle', 'hotcold.js');
const HEAVY = ['apache-arrow', 'vega', 'vega-lite', '@resvg/resvg-js', 'zod', 'p-queue'];

/** Packages reachable through static (non-type) imports from a compiled module. */
function staticPackages(entry: string): Set<string> {
  const seen = new Set<string>();
  const pkgs = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)\s[^'";]*?\sfrom\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec));
      else if (!spec.startsWith('node:')) pkgs.add(spec);
    }
  };
  walk(entry);
  return pkgs;
}

function node(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('compiled CLI (dist/)', () => {
  let d: TrainData;
  let dir: string;
  beforeAll(() => {
    execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'pipe' });
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'bundle.mjs')], { stdio: 'pipe' });
    d = makeTrainData({ trainRows: 1200, evalRows: 300 });
    dir = mkdtempSync(join(tmpdir(), 'hotcold-compiled-'));
  }, 180_000);
  afterAll(() => {
    d?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints help and the version, through dist/ and through the bin shim', () => {
    const help = node([DIST_BIN, '--help']);
    expect(help.code).toBe(0);
    for (const cmd of ['generate', 'preprocess', 'profile', 'segregate', 'train', 'checkpoint', 'sweep', 'report', 'demo']) expect(help.out).toContain(cmd);
    const version = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version as string;
    expect(node([join(ROOT, 'bin', 'hotcold.js'), '--version']).out.trim()).toBe(version);
    expect(node([DIST_BIN, 'train', '--help']).out).toContain('--checkpoint-every');
  });

  it('the bin shim says to run npm ci, not a stack trace, where nothing is built or installed', () => {
    const bare = join(dir, 'fresh-clone');
    mkdirSync(join(bare, 'bin'), { recursive: true });
    copyFileSync(join(ROOT, 'bin', 'hotcold.js'), join(bare, 'bin', 'hotcold.js'));
    const r = node([join(bare, 'bin', 'hotcold.js'), '--help']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/run `npm ci` first/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('`npx hotcold` before `npm ci`: the prepare script npx runs skips the build and exits 0, so npx reaches the shim', () => {
    // npx links the checkout into ~/.npm/_npx and runs its prepare there; a failing prepare made npx exit 127 silently
    const bare = join(dir, 'fresh-clone-prepare');
    mkdirSync(join(bare, 'scripts'), { recursive: true });
    copyFileSync(join(ROOT, 'scripts', 'prepare.mjs'), join(bare, 'scripts', 'prepare.mjs'));
    const r = node([join(bare, 'scripts', 'prepare.mjs')]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/dependencies are not installed, dist\/ not built: run `npm ci` first/);
    expect(existsSync(join(bare, 'dist'))).toBe(false);
    expect(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.prepare).toBe('node scripts/prepare.mjs');
  });

  it('loads no heavy module for --help (they load inside the commands that use them)', () => {
    const pkgs = staticPackages(DIST_BIN);
    expect([...pkgs].filter((p) => HEAVY.includes(p))).toEqual([]);
    expect(pkgs.has('commander')).toBe(true);
    // the train command itself does need Arrow (shards) but not the plotting stack
    const train = staticPackages(join(ROOT, 'dist', 'stages', 'train', 'train.js'));
    expect(train.has('apache-arrow')).toBe(true);
    expect(['vega', 'vega-lite', '@resvg/resvg-js'].filter((p) => train.has(p))).toEqual([]);
  });

  it.each([['tsc output', DIST_BIN], ['bundle', BUNDLE_BIN]])('finds the native parse addon from the compiled CLI (%s): preprocess --parser native runs', (name, bin) => {
    if (!existsSync(join(ROOT, 'native', 'parse', 'build', 'Release', 'parse.node'))) {
      console.warn('skipped: the parse addon is not built (npm run build:addon)');
      return;
    }
    const tsv = join(dir, `p-${name}.tsv`);
    writeFileSync(tsv, Array.from({ length: 50 }, (_, i) => [i % 2, ...Array(13).fill(String(i)), ...Array(26).fill('68fd1e64')].join('\t')).join('\n') + '\n');
    const r = node([bin, 'preprocess', '--input', tsv, '--out', join(dir, `pre-${name}`), '--parser', 'native']);
    expect(r.err).not.toMatch(/native parser is not built/);
    expect(r.code).toBe(0);
  });

  it('reports a bad config as a usage error without a stack trace', () => {
    const r = node([DIST_BIN, 'train', '--config', join(dir, 'missing.json'), '--data', d.dataDir, '--out', join(dir, 'x')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/missing\.json/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it.each([['tsc output', DIST_BIN], ['bundle', BUNDLE_BIN]])('trains with a checkpoint written by the compiled writer thread (%s)', (name, bin) => {
    expect(existsSync(bin), `${bin} was not built`).toBe(true);
    const cfg = join(dir, 'c.json');
    writeFileSync(cfg, JSON.stringify({ mode: 'baseline', model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 128 } }));
    const out = join(dir, `run-${name}`);
    const ck = join(dir, `ckpt-${name}`);
    const r = node([bin, 'train', '--config', cfg, '--data', d.dataDir, '--out', out, '--checkpoint-every', '4', '--checkpoint-dir', ck, '--quiet']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^baseline: val auc 0\.\d+/);
    expect(existsSync(join(out, 'metrics.json'))).toBe(true);
    // the CLI's defaults: batches from the compiled data worker, --threads auto
    const m = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as { dataLoad: { worker: boolean; threadsAsked: string; threads: number } };
    expect(m.dataLoad).toMatchObject({ worker: true, threadsAsked: 'auto' });
    expect(m.dataLoad.threads).toBeGreaterThanOrEqual(1);
    expect(readdirSync(ck).length).toBeGreaterThan(0);
    const ls = node([bin, 'checkpoint', 'ls', ck]);
    expect(ls.code).toBe(0);
    expect(ls.out).toMatch(/full/);
  });

  for (const workers of [1, 2]) it(`Ctrl-C stops a run with its data worker${workers > 1 ? ` and ${workers} training workers` : ''} promptly: exit 130, no stack trace, the output lock released`, async () => {
    const cfg = join(dir, `long-${workers}.json`);
    writeFileSync(cfg, JSON.stringify({ mode: 'baseline', model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 128, epochs: 100000, evalEvery: 0, logEvery: 1 }, parallel: { workers } }));
    const out = join(dir, `run-sigint-${workers}`);
    const child = spawn(process.execPath, [BUNDLE_BIN, 'train', '--config', cfg, '--data', d.dataDir, '--out', out, '--quiet'], { env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } });
    let err = '';
    child.stderr.on('data', (b: Buffer) => void (err += b.toString()));
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    // wait until it trains (log.jsonl has step lines), then interrupt
    for (let i = 0; i < 600 && !(existsSync(join(out, 'log.jsonl')) && readFileSync(join(out, 'log.jsonl'), 'utf8').includes('"step"')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(join(dir, `.run-sigint-${workers}.hotcold.lock`))).toBe(true);
    const t0 = Date.now();
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(err).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, `.run-sigint-${workers}.hotcold.lock`))).toBe(false);
  }, 60_000);

  it('a broken shard read by the data worker is reported as a PipelineError naming the file, not a worker stack trace', () => {
    const data = join(dir, 'broken-data');
    cpSync(d.dataDir, data, { recursive: true });
    const shards = readdirSync(join(data, 'shards')).filter((f) => f.startsWith('train'));
    const victim = join(data, 'shards', shards[0]!);
    writeFileSync(victim, Buffer.alloc(statSync(victim).size, 0x5a)); // same size: passes the manifest's size check, fails decoding
    const cfg = join(dir, 'c-broken.json');
    writeFileSync(cfg, JSON.stringify({ mode: 'baseline', model: { dim: 8, mlpBot: '13-16-8', mlpTop: '16-1' }, train: { batchSize: 128 } }));
    const r = node([BUNDLE_BIN, 'train', '--config', cfg, '--data', data, '--out', join(dir, 'run-broken'), '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(victim);
    expect(r.err).toMatch(/not a readable Arrow IPC shard/);
    expect(r.err).not.toMatch(/\n\s+at /);
    expect(r.err).not.toMatch(/data-worker|worker_threads/);
  });
});
