import { Command } from 'commander';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Rng } from '../../pipeline/rng.js';
import { CheckpointStore, compactCheckpoints, listCheckpoints, type TrainState, verifyCheckpoints } from '../../stages/train/checkpoint/index.js';
import { register } from '../../stages/train/checkpoint/cli.js';
import { diffState, emptyLike, makeState, tempDirs, trainStep } from './checkpoint-fixture.js';

const tmp = tempDirs();

function writeChain(dir: string, n: number): TrainState {
  const s = makeState(31);
  const rng = new Rng(8);
  const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100 });
  for (let k = 0; k < n; k++) {
    trainStep(s, rng);
    store.save(s);
  }
  return s;
}

function restoreAt(dir: string, like: TrainState) {
  const into = emptyLike(like);
  const r = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100 }).restore(into)!;
  return { into, r };
}

describe('compact', () => {
  it('folds the chain into a full base with the same state, position and config', () => {
    const dir = tmp();
    const s = writeChain(dir, 5);
    const res = compactCheckpoints(dir, { prune: true });
    expect(res.from).toBe(5);
    expect(res.saved).toMatchObject({ version: 6, kind: 'full' });
    expect(readdirSync(dir).sort()).toEqual(['v000006.bin', 'v000006.json']);
    const { into, r } = restoreAt(dir, s);
    expect(r.version).toBe(6);
    expect(diffState(s, into, r.blobs)).toBeNull();
    expect(r.position).toEqual(s.position);
    const m = JSON.parse(readFileSync(join(dir, 'v000006.json'), 'utf8')) as { config: unknown; kind: string };
    expect(m.config).toEqual(s.config);
  });
});

describe('ls and verify', () => {
  it('lists versions with rows per table and verifies checksums', async () => {
    const dir = tmp();
    writeChain(dir, 3);
    const list = listCheckpoints(dir);
    expect(list.map((v) => [v.version, v.kind, v.parent])).toEqual([
      [1, 'full', null],
      [2, 'incr', 1],
      [3, 'incr', 2],
    ]);
    expect(list[0]!.rows.map((r) => r.stored)).toEqual([40, 300, 1000, 7]);
    expect(list[1]!.rows.every((r) => r.stored < r.total)).toBe(true);
    expect(list[1]!.bytes).toBeLessThan(list[0]!.bytes);
    expect((await verifyCheckpoints(dir)).ok).toBe(true);
  });

  it('CLI: verify exits nonzero naming the damaged file; ls prints the chain', async () => {
    const dir = tmp();
    writeChain(dir, 2);
    const ls = await runCli(['ls', dir]);
    expect(ls.out).toMatch(/v000001\s+full/);
    expect(ls.out).toMatch(/v000002\s+incr/);
    expect(ls.code).toBe(0);
    expect((await runCli(['verify', dir])).code).toBe(0);
    const f = join(dir, 'v000002.bin');
    const buf = readFileSync(f);
    buf[buf.length - 1]! ^= 0xff;
    writeFileSync(f, buf);
    const r = await runCli(['verify', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(f);
    expect(r.err).toContain('damaged checkpoint versions: v000002');
    expect(r.err).toContain('--resume would use v000001');
  });
});

/** Run `hotcold checkpoint <args>` in-process; returns stdout, stderr and the exit code it set. */
async function runCli(args: string[]): Promise<{ out: string; err: string; code: number }> {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'hotcold', 'checkpoint', ...args]);
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { out, err, code };
}
