import { existsSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.js';
import { CheckpointStore, InjectedCrash, type CommitStep, type TrainState, verifyCheckpoints } from '../../stages/train/checkpoint/index.js';
import { diffState, emptyLike, makeState, saveChain, snapshot, tempDirs, trainStep } from './checkpoint-fixture.js';

const tmp = tempDirs();

/** Write versions 1..n (fullEvery as given); returns the live state and the snapshot after each version. */
const writeChain = (dir: string, n: number, fullEvery: number, flat = true): { s: TrainState; snaps: TrainState[] } =>
  saveChain(dir, n, fullEvery, makeState(21), new Rng(5), flat);

/** Byte offset of table `i`'s section in the data file of version `v`. */
function tableOffset(dir: string, v: number, i: number): number {
  const m = JSON.parse(readFileSync(join(dir, `v${String(v).padStart(6, '0')}.json`), 'utf8')) as { tables: { offset: number }[] };
  return m.tables[i]!.offset;
}

function restore(dir: string, like: TrainState) {
  const into = emptyLike(like);
  const logs: string[] = [];
  const r = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8, log: (m) => logs.push(m) }).restore(into);
  return { into, r, logs };
}

const STEPS: CommitStep[] = ['data', 'fsync', 'manifest-tmp', 'rename'];

describe('crash during the commit protocol', () => {
  for (const step of STEPS) {
    it(`after '${step}' leaves a loadable checkpoint and the next open cleans the partial one`, () => {
      const dir = tmp();
      const { s, snaps } = writeChain(dir, 2, 8);
      // a process that resumed from v2, trained, and died while committing v3
      const into = emptyLike(s);
      const crashing = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8, failAfter: step });
      const r = crashing.restore(into)!;
      into.blobs = r.blobs;
      into.position = r.position;
      trainStep(into, new Rng(9));
      const live = snapshot(into);
      expect(() => crashing.save(into)).toThrow(InjectedCrash);

      const logs: string[] = [];
      const next = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8, log: (m) => logs.push(m) });
      const names = readdirSync(dir);
      expect(names.filter((n) => n.includes('.tmp-'))).toEqual([]);
      if (step === 'rename') {
        // the rename is the commit point: v3 exists
        expect(next.latest()).toEqual({ version: 3, kind: 'incr' });
        const back = restore(dir, s);
        expect(diffState(live, back.into, back.r!.blobs)).toBeNull();
      } else {
        expect(names).not.toContain('v000003.bin');
        expect(logs.join('\n')).toContain('v000003');
        expect(next.latest()).toEqual({ version: 2, kind: 'incr' });
        const back = restore(dir, s);
        expect(back.r!.version).toBe(2);
        expect(diffState(snaps[1]!, back.into, back.r!.blobs)).toBeNull();
      }
    });
  }
});

describe('damaged files', () => {
  it('a corrupted increment is detected, named, and restore falls back to the previous version', () => {
    const dir = tmp();
    const { s, snaps } = writeChain(dir, 4, 8, false); // no flat increment: recovery reads v4 itself
    const f = join(dir, 'v000004.bin');
    const buf = readFileSync(f);
    buf[tableOffset(dir, 4, 1) + 40]! ^= 0x10;
    writeFileSync(f, buf);
    const back = restore(dir, s);
    expect(back.r!.version).toBe(3);
    expect(diffState(snaps[2]!, back.into, back.r!.blobs)).toBeNull();
    const log = back.logs.join('\n');
    expect(log).toContain('checksum mismatch');
    expect(log).toContain(f);
    expect(log).toMatch(/resuming from v000003/);
  });

  it('a truncated base invalidates its whole chain; restore uses the previous chain', async () => {
    const dir = tmp();
    const { s, snaps } = writeChain(dir, 5, 2); // 1F 2I 3I 4F 5I
    const f = join(dir, 'v000004.bin');
    truncateSync(f, tableOffset(dir, 4, 2) + 100);
    const back = restore(dir, s);
    expect(back.r!.version).toBe(3);
    expect(diffState(snaps[2]!, back.into, back.r!.blobs)).toBeNull();
    expect(back.logs.join('\n')).toContain('truncated');

    const rep = await verifyCheckpoints(dir);
    expect(rep.ok).toBe(false);
    const byV = new Map(rep.versions.map((v) => [v.version, v]));
    expect(byV.get(4)!.problems.join()).toContain(f);
    expect(byV.get(5)!.restorable).toBe(false);
    expect(byV.get(3)!.restorable).toBe(true);
  });

  it('an edited manifest (position) is detected by its self-checksum', () => {
    const dir = tmp();
    const { s, snaps } = writeChain(dir, 3, 8);
    const p = join(dir, 'v000003.json');
    writeFileSync(p, readFileSync(p, 'utf8').replace('"batch": 3', '"batch": 4'));
    const back = restore(dir, s);
    expect(back.r!.version).toBe(2);
    expect(back.r!.position.batch).toBe(2);
    expect(diffState(snaps[1]!, back.into, back.r!.blobs)).toBeNull();
  });

  it('after a fallback the next save continues from the restored version', () => {
    const dir = tmp();
    const { s } = writeChain(dir, 3, 8, false);
    const f = join(dir, 'v000003.bin');
    const buf = readFileSync(f);
    buf[20]! ^= 1; // a dense parameter
    writeFileSync(f, buf);
    const into = emptyLike(s);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8 });
    const r = store.restore(into)!;
    expect(r.version).toBe(2);
    into.blobs = r.blobs;
    into.position = r.position;
    trainStep(into, new Rng(4));
    expect(store.save(into)).toMatchObject({ version: 4, kind: 'incr' });
    const m = JSON.parse(readFileSync(join(dir, 'v000004.json'), 'utf8')) as { parent: number };
    expect(m.parent).toBe(2);
    const back = restore(dir, s);
    expect(back.r!.version).toBe(4);
    expect(diffState(into, back.into, back.r!.blobs)).toBeNull();
  });

  it('no valid version at all is a checksum error, not a silent fresh start', () => {
    const dir = tmp();
    const { s } = writeChain(dir, 2, 8);
    truncateSync(join(dir, 'v000001.bin'), 10);
    expect(() => restore(dir, s)).toThrow(expect.objectContaining({ code: 'checksum' }) as Error);
    expect(existsSync(join(dir, 'v000002.json'))).toBe(true);
  });
});
