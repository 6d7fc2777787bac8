import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import { Rng } from '../../pipeline/rng.js';
import { CheckpointStore, type TrainState } from '../../stages/train/checkpoint/index.js';
import { diffState, emptyLike, isTouched, makeState, setTouched, restoreFresh, snapshot, tempDirs, trainStep } from './checkpoint-fixture.js';

const tmp = tempDirs();

describe('CheckpointStore save/restore', () => {
  it('a full base then increments restore bit for bit at every version', () => {
    const dir = tmp();
    const s = makeState(1);
    const rng = new Rng(7);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100 });
    const snaps: TrainState[] = [];
    const results = [];
    for (let k = 0; k < 5; k++) {
      if (k > 0) trainStep(s, rng);
      let touched = 0;
      for (const t of s.tables) for (let r = 0; r < t.rows; r++) touched += isTouched(t.touched, r) ? 1 : 0;
      const res = store.save(s);
      results.push(res);
      if (k > 0) expect(res.rows).toBe(touched);
      for (const t of s.tables) expect(t.touched.every((b) => b === 0)).toBe(true);
      expect(res.pauseSec).toBeGreaterThanOrEqual(0);
      snaps.push(snapshot(s));
    }
    expect(results.map((r) => r.kind)).toEqual(['full', 'incr', 'incr', 'incr', 'incr']);
    expect(results.map((r) => r.version)).toEqual([1, 2, 3, 4, 5]);
    expect(results[1]!.bytes).toBeLessThan(results[0]!.bytes / 2);

    const { into, r } = restoreFresh(dir, s);
    expect(r!.version).toBe(5);
    expect(diffState(s, into, r!.blobs)).toBeNull();
    expect(r!.position).toEqual(s.position);

    // an interrupted run resumes from an older version: cut the chain after each version
    for (let v = 1; v <= 4; v++) {
      const d2 = tmp();
      const st = CheckpointStore.open({ dir: d2, threshold: 0, fullEvery: 100 });
      const s2 = makeState(1);
      const rng2 = new Rng(7);
      for (let k = 0; k < v; k++) {
        if (k > 0) trainStep(s2, rng2);
        st.save(s2);
      }
      const back = restoreFresh(d2, s2);
      expect(diffState(snaps[v - 1]!, back.into, back.r!.blobs)).toBeNull();
    }
  });

  it('continues the chain after restore and stays exact', () => {
    const dir = tmp();
    const s = makeState(2);
    const rng = new Rng(3);
    const a = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100 });
    a.save(s);
    trainStep(s, rng);
    a.save(s);
    // "crash": a new process restores into fresh arrays and trains on
    const into = emptyLike(s);
    const b = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100 });
    const r = b.restore(into)!;
    into.blobs = r.blobs;
    into.position = r.position;
    expect(into.tables.every((t) => t.touched.every((x) => x === 0))).toBe(true);
    const rngB = new Rng(11);
    const rngS = new Rng(11);
    trainStep(into, rngB);
    trainStep(s, rngS);
    const res = b.save(into);
    expect(res).toMatchObject({ version: 3, kind: 'incr' });
    const back = restoreFresh(dir, s);
    expect(diffState(s, back.into, back.r!.blobs)).toBeNull();
    expect(back.r!.version).toBe(3);
  });

  it('returns null on an empty directory and rejects a model of another shape', () => {
    const dir = tmp();
    const s = makeState(3);
    expect(CheckpointStore.open({ dir, threshold: 0, fullEvery: 4 }).restore(emptyLike(s))).toBeNull();
    CheckpointStore.open({ dir, threshold: 0, fullEvery: 4 }).save(s);
    const other = makeState(3, [40, 301, 1000, 7]);
    expect(() => CheckpointStore.open({ dir, threshold: 0, fullEvery: 4 }).restore(emptyLike(other))).toThrow(
      expect.objectContaining({ code: 'mismatch' }) as Error,
    );
  });

  it('rejects bad options', () => {
    const dir = tmp();
    expect(() => CheckpointStore.open({ dir, threshold: -1, fullEvery: 4 })).toThrow(PipelineError);
    expect(() => CheckpointStore.open({ dir, threshold: 0, fullEvery: 1.5 })).toThrow(PipelineError);
  });
});

describe('threshold semantics', () => {
  it('stores only rows whose change since the last stored value exceeds T; others keep their bit', () => {
    const dir = tmp();
    const T = 0.01;
    const s = makeState(4, [64], 4, true);
    const t = s.tables[0]!;
    const store = CheckpointStore.open({ dir, threshold: T, fullEvery: 100 });
    store.save(s);
    const stored5 = t.weights.slice(5 * 4, 6 * 4);
    // row 5 moves by 0.006 (< T), row 9 by 0.02 (> T), row 12 is touched but unchanged
    t.weights[5 * 4 + 1]! += 0.006;
    t.weights[9 * 4 + 2]! -= 0.02;
    t.accum![9]! += 1;
    for (const r of [5, 9, 12]) setTouched(t.touched, r);
    const res = store.save(s);
    expect(res).toMatchObject({ kind: 'incr', rows: 1 });
    expect(isTouched(t.touched, 5)).toBe(true);
    expect(isTouched(t.touched, 9)).toBe(false);
    expect(isTouched(t.touched, 12)).toBe(true);
    const live9 = t.weights.slice(9 * 4, 10 * 4);

    const back = restoreFresh(dir, s, T);
    const w = back.into.tables[0]!.weights;
    expect(Array.from(w.slice(5 * 4, 6 * 4))).toEqual(Array.from(stored5)); // resumed value = last stored one
    expect(Array.from(w.slice(9 * 4, 10 * 4))).toEqual(Array.from(live9));
    expect(back.into.tables[0]!.accum![9]).toBe(t.accum![9]);

    // a second small move pushes row 5 past T relative to the *stored* value → now stored
    t.weights[5 * 4 + 1]! += 0.006;
    setTouched(t.touched, 5);
    const res2 = store.save(s);
    expect(res2.rows).toBe(1);
    expect(isTouched(t.touched, 5)).toBe(false);
    const back2 = restoreFresh(dir, s, T);
    expect(Array.from(back2.into.tables[0]!.weights.slice(5 * 4, 6 * 4))).toEqual(Array.from(t.weights.slice(5 * 4, 6 * 4)));
  });

  it('threshold 0 stores every touched row, even an unchanged one', () => {
    const dir = tmp();
    const s = makeState(5, [64]);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100 });
    store.save(s);
    setTouched(s.tables[0]!.touched, 3);
    setTouched(s.tables[0]!.touched, 63);
    expect(store.save(s).rows).toBe(2);
  });
});

describe('full bases', () => {
  it('writes a new full base after fullEvery increments', () => {
    const dir = tmp();
    const s = makeState(6);
    const rng = new Rng(1);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 2, keepChains: 0 });
    const kinds = [];
    for (let k = 0; k < 7; k++) {
      trainStep(s, rng);
      kinds.push(store.save(s).kind);
    }
    expect(kinds).toEqual(['full', 'incr', 'incr', 'full', 'incr', 'incr', 'full']);
    const back = restoreFresh(dir, s);
    expect(diffState(s, back.into, back.r!.blobs)).toBeNull();
  });

  it('writes a new full base when the chain outgrows its base', () => {
    const dir = tmp();
    const s = makeState(7, [200]);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100 });
    const kinds = [];
    for (let k = 0; k < 4; k++) {
      s.tables[0]!.touched.fill(0xff); // every row touched: an increment is bigger than the base
      kinds.push(store.save(s).kind);
    }
    expect(kinds).toEqual(['full', 'incr', 'full', 'incr']);
  });

  it('keeps only the newest keepChains chains on disk', () => {
    const dir = tmp();
    const s = makeState(8, [50]);
    const rng = new Rng(2);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 1, keepChains: 2 });
    for (let k = 0; k < 8; k++) {
      trainStep(s, rng);
      store.save(s);
    }
    // versions: 1F 2I 3F 4I 5F 6I 7F 8I → chains of bases 5 and 7 remain
    expect(readdirSync(dir).filter((n) => n.endsWith('.json')).sort()).toEqual(['v000005.json', 'v000006.json', 'v000007.json', 'v000008.json']);
    const back = restoreFresh(dir, s);
    expect(diffState(s, back.into, back.r!.blobs)).toBeNull();
  });
});
