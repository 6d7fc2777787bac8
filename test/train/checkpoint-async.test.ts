/**
 * Background saves (beginSave/settle): the snapshot is taken when beginSave returns,
 * the file is written on the writer thread, at most one save is in flight, and a
 * failed write surfaces at settle() and makes the next save a full base.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.js';
import { CheckpointStore, InjectedCrash, type CommitStep, type TrainState } from '../../stages/train/checkpoint/index.js';
import { diffState, emptyLike, isTouched, makeState, setTouched, restoreFresh, snapshot, tempDirs, trainStep } from './checkpoint-fixture.js';

const tmp = tempDirs();

describe('background saves', () => {
  it('store the state as it was at beginSave, even when training goes on during the write', async () => {
    const dir = tmp();
    const s = makeState(31);
    const rng = new Rng(8);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 2, keepChains: 0 });
    const snaps: TrainState[] = [];
    const kinds: string[] = [];
    try {
      for (let k = 0; k < 5; k++) {
        if (k > 0) trainStep(s, rng);
        const started = store.beginSave(s);
        kinds.push(started.kind);
        expect(started.version).toBe(k + 1);
        expect(started.pauseSec).toBeGreaterThanOrEqual(0);
        // touched bits of the copied rows are cleared at the snapshot
        for (const t of s.tables) expect(t.touched.every((b) => b === 0)).toBe(true);
        snaps.push(snapshot(s));
        trainStep(s, rng); // training goes on while the writer thread works: belongs to the next version
        const done = await store.settle();
        expect(done).toMatchObject({ version: k + 1, kind: started.kind });
        expect(done!.bytes).toBeGreaterThan(started.dataBytes);
        expect(done!.writeSec).toBeGreaterThanOrEqual(0);
        expect(await store.settle()).toBeNull();
      }
    } finally {
      await store.close();
    }
    expect(kinds).toEqual(['full', 'incr', 'incr', 'full', 'incr']);
    // every version restores to its snapshot, bit for bit; the rows trained after a snapshot went into the next increment
    const back = restoreFresh(dir, s);
    expect(back.r!.version).toBe(5);
    expect(diffState(snaps[4]!, back.into, back.r!.blobs)).toBeNull();
    expect(back.r!.position).toEqual(snaps[4]!.position);
    const m = JSON.parse(readFileSync(join(dir, 'v000005.json'), 'utf8')) as { parent: number; base: number };
    expect(m).toMatchObject({ parent: 4, base: 4 });
  });

  it('allow one save in flight: save, beginSave and restore refuse until settle()', async () => {
    const dir = tmp();
    const s = makeState(32);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8 });
    try {
      store.beginSave(s);
      expect(store.busy).toBe(true);
      expect(() => store.beginSave(s)).toThrow(/in flight/);
      expect(() => store.save(s)).toThrow(/in flight/);
      expect(() => store.restore(emptyLike(s))).toThrow(/in flight/);
      await store.settle();
      expect(store.busy).toBe(false);
      trainStep(s, new Rng(1));
      expect(store.save(s)).toMatchObject({ version: 2, kind: 'incr' }); // sync and background saves share one chain
    } finally {
      await store.close();
    }
    const back = restoreFresh(dir, s);
    expect(diffState(s, back.into, back.r!.blobs)).toBeNull();
  });

  it('keeps threshold semantics: a row moved by less than T keeps its bit and its stored value', async () => {
    const dir = tmp();
    const T = 0.01;
    const s = makeState(33, [64], 4, true);
    const t = s.tables[0]!;
    const store = CheckpointStore.open({ dir, threshold: T, fullEvery: 100 });
    try {
      store.beginSave(s);
      await store.settle();
      const stored5 = t.weights.slice(5 * 4, 6 * 4);
      t.weights[5 * 4 + 1]! += 0.006;
      t.weights[9 * 4 + 2]! -= 0.02;
      for (const r of [5, 9]) setTouched(t.touched, r);
      expect(store.beginSave(s)).toMatchObject({ kind: 'incr', rows: 1 });
      expect(isTouched(t.touched, 5)).toBe(true);
      expect(isTouched(t.touched, 9)).toBe(false);
      const live9 = t.weights.slice(9 * 4, 10 * 4);
      t.weights[9 * 4]! += 1; // after the snapshot: not in this version
      await store.settle();
      const w = restoreFresh(dir, s, T).into.tables[0]!.weights;
      expect(Array.from(w.slice(5 * 4, 6 * 4))).toEqual(Array.from(stored5));
      expect(Array.from(w.slice(9 * 4, 10 * 4))).toEqual(Array.from(live9));
    } finally {
      await store.close();
    }
  });

  const STEPS: CommitStep[] = ['data', 'fsync', 'manifest-tmp', 'rename'];
  for (const step of STEPS) {
    it(`a write that fails after '${step}' surfaces at settle(), the next save is a full base, and the last good version loads`, async () => {
      const dir = tmp();
      const s = makeState(34);
      const rng = new Rng(3);
      const good = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8 });
      good.save(s);
      trainStep(s, rng);
      good.save(s);
      const v2 = snapshot(s);
      const logs: string[] = [];
      const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8, failAfter: step, log: (m) => logs.push(m) });
      const into = emptyLike(s);
      const r = store.restore(into)!;
      into.blobs = r.blobs;
      into.position = r.position;
      trainStep(into, rng);
      try {
        expect(store.beginSave(into)).toMatchObject({ version: 3, kind: 'incr' });
        await expect(store.settle()).rejects.toBeInstanceOf(InjectedCrash);
        expect(logs.join('\n')).toMatch(/writing v000003 failed: .*next checkpoint will be a full base/);
        expect(store.busy).toBe(false);
        // rows cleared at the snapshot of v3 must not be lost: the next version is a full base
        expect(store.beginSave(into)).toMatchObject({ version: 4, kind: 'full' });
        await expect(store.settle()).rejects.toBeInstanceOf(InjectedCrash);
      } finally {
        await store.close();
      }
      const back = restoreFresh(dir, s);
      if (step === 'rename') {
        // committed before the injected crash: v4 (full) is the newest version
        expect(back.r!.version).toBe(4);
        expect(diffState(into, back.into, back.r!.blobs)).toBeNull();
      } else {
        expect(back.r!.version).toBe(2);
        expect(diffState(v2, back.into, back.r!.blobs)).toBeNull();
        expect(readdirSync(dir).filter((n) => n.includes('.tmp-') || n === 'v000003.bin' || n === 'v000004.bin')).toEqual([]);
      }
    });
  }
});
