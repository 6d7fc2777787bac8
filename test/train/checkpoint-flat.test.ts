import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../pipeline/rng.js';
import { CheckpointStore, InjectedCrash, type CommitStep, type TrainState, verifyCheckpoints } from '../../stages/train/checkpoint/index.js';
import type { CheckpointManifest } from '../../stages/train/checkpoint/format.js';
import { manifestSelfHash } from '../../stages/train/checkpoint/manifest.js';
import { copyRowsAt } from '../../stages/train/checkpoint/load.js';
import { diffState, emptyLike, isTouched, makeState, snapshot, tempDirs, trainStep } from './checkpoint-fixture.js';

const tmp = tempDirs();
const vn = (v: number): string => `v${String(v).padStart(6, '0')}`;

function restore(dir: string, like: TrainState, recovery: 'fastest' | 'chain' = 'fastest') {
  const into = emptyLike(like);
  const logs: string[] = [];
  const r = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8, recovery, log: (m) => logs.push(m) }).restore(into)!;
  return { into, r, logs };
}

function flatManifest(dir: string, v: number): CheckpointManifest {
  return JSON.parse(readFileSync(join(dir, `${vn(v)}.flat.json`), 'utf8')) as CheckpointManifest;
}

/** Train and save n versions (1 full + n−1 increments), returning snapshots and, per table, the rows any increment stored. */
function chain(dir: string, n: number, opts: { seed?: number; failFlatAfter?: CommitStep } = {}) {
  const s = makeState(opts.seed ?? 3);
  const rng = new Rng(opts.seed ?? 3);
  const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100, keepChains: 0, failFlatAfter: opts.failFlatAfter });
  const snaps: TrainState[] = [];
  const union = s.tables.map(() => new Set<number>());
  for (let k = 0; k < n; k++) {
    if (k > 0) {
      // random update sequences: a random number of updates per step, rows skewed and uniform
      for (let q = 1 + rng.int(3); q > 0; q--) trainStep(s, rng, 5 + rng.int(30));
      s.tables.forEach((t, i) => { for (let r = 0; r < t.rows; r++) if (isTouched(t.touched, r)) union[i]!.add(r); });
    }
    store.save(s);
    snaps.push(snapshot(s));
  }
  return { s, snaps, union, store };
}

describe('flat (merged) increments', () => {
  it('recovery through the flat increment is bit-identical to reading the whole chain, one copy of each row', () => {
    for (const seed of [3, 11, 29]) {
      const dir = tmp();
      const { s, snaps, union } = chain(dir, 7, { seed });
      // only the newest flat is kept
      expect(readdirSync(dir).filter((n) => n.includes('.flat.')).sort()).toEqual([`${vn(7)}.flat.bin`, `${vn(7)}.flat.json`]);
      const m = flatManifest(dir, 7);
      expect(m.merged!.map((x) => x.version)).toEqual([2, 3, 4, 5, 6, 7]);
      expect(m.tables.map((t) => t.stored)).toEqual(union.map((u) => u.size));
      const fast = restore(dir, s);
      const slow = restore(dir, s, 'chain');
      expect(fast.r.path).toBe('flat');
      expect(slow.r.path).toBe('chain');
      expect(diffState(snaps[6]!, fast.into, fast.r.blobs)).toBeNull();
      expect(diffState(slow.into, fast.into, fast.r.blobs)).toBeNull();
      expect(fast.r.position).toEqual(slow.r.position);
    }
  });

  it('base + one increment needs no flat file and loads in one fused pass', () => {
    const dir = tmp();
    const { s, snaps } = chain(dir, 2);
    expect(readdirSync(dir).some((n) => n.includes('.flat.'))).toBe(false);
    const b = restore(dir, s);
    expect(b.r.path).toBe('chain');
    expect(diffState(snaps[1]!, b.into, b.r.blobs)).toBeNull();
  });

  for (const step of ['data', 'fsync', 'manifest-tmp', 'rename'] as const) {
    it(`a crash in the middle of a merge (after '${step}') leaves the last checkpoint loadable and exact`, () => {
      const dir = tmp();
      const { s, snaps } = chain(dir, 4); // flat of v4 written
      // a process resumes from v4, trains, saves v5 and dies while merging its flat increment
      const into = emptyLike(s);
      const crashing = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100, failFlatAfter: step });
      const r = crashing.restore(into)!;
      into.blobs = r.blobs;
      into.position = r.position;
      trainStep(into, new Rng(77));
      const live = snapshot(into);
      expect(() => crashing.save(into)).toThrow(InjectedCrash);
      expect(existsSync(join(dir, `${vn(5)}.json`))).toBe(true); // v5 itself committed before the merge began

      const logs: string[] = [];
      CheckpointStore.open({ dir, threshold: 0, fullEvery: 100, log: (m) => logs.push(m) });
      const names = readdirSync(dir);
      expect(names.filter((n) => n.includes('.tmp-'))).toEqual([]);
      if (step === 'rename') {
        expect(names).toContain(`${vn(5)}.flat.json`);
      } else {
        expect(names.filter((n) => n.startsWith(`${vn(5)}.flat`))).toEqual([]);
        expect(names).toContain(`${vn(4)}.flat.json`); // the older flat is deleted only after a newer one commits
        expect(logs.join('\n')).toContain(`${vn(5)}.flat.bin`);
      }
      const back = restore(dir, s);
      expect(back.r.version).toBe(5);
      expect(back.r.path).toBe('flat'); // the flat of v4 + v5, or the flat of v5
      expect(diffState(live, back.into, back.r.blobs)).toBeNull();
      expect(diffState(snaps[3]!, snaps[3]!)).toBeNull();
    });
  }

  it('a failed merge on the writer thread is logged, the write itself succeeds and the chain restores exactly', async () => {
    const dir = tmp();
    const s = makeState(5);
    const rng = new Rng(5);
    const logs: string[] = [];
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100, keepChains: 0, failFlatAfter: 'fsync', log: (m) => logs.push(m) });
    try {
      for (let k = 0; k < 4; k++) {
        trainStep(s, rng);
        store.beginSave(s);
        expect(await store.settle()).toMatchObject({ version: k + 1 });
      }
    } finally {
      await store.close();
    }
    const live = snapshot(s);
    // the flat message of v4 may arrive after close: the files tell what happened
    expect(readdirSync(dir).some((n) => n.includes('.flat.json'))).toBe(false);
    const back = restore(dir, s);
    expect(back.r.version).toBe(4);
    expect(back.r.path).toBe('chain');
    expect(diffState(live, back.into, back.r.blobs)).toBeNull();
    expect(logs.join('\n')).toMatch(/flat increment of v00000[34] failed: injected crash/);
  });

  it('background saves write flat increments on the writer thread', async () => {
    const dir = tmp();
    const s = makeState(6);
    const rng = new Rng(6);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100, keepChains: 0 });
    const snaps: TrainState[] = [];
    try {
      for (let k = 0; k < 5; k++) {
        trainStep(s, rng, 40);
        store.beginSave(s);
        snaps.push(snapshot(s));
        await store.settle();
      }
      // the next job runs after the worker's merge of v5: its reply means the flat of v5 is on disk
      store.beginSave(s, { full: true });
      await store.settle();
    } finally {
      await store.close();
    }
    expect(existsSync(join(dir, `${vn(5)}.flat.json`))).toBe(true);
    // restore v5 (hide v6, the full one) through the flat file
    const only5 = tmp();
    for (const n of readdirSync(dir)) if (!n.startsWith(vn(6))) writeFileSync(join(only5, n), readFileSync(join(dir, n)));
    const back = restore(only5, s);
    expect(back.r).toMatchObject({ version: 5, path: 'flat' });
    expect(diffState(snaps[4]!, back.into, back.r.blobs)).toBeNull();
  });

  it('a damaged flat increment is reported by verify and recovery falls back to the chain, exactly', async () => {
    const dir = tmp();
    const { s, snaps } = chain(dir, 5);
    const f = join(dir, `${vn(5)}.flat.bin`);
    const buf = readFileSync(f);
    buf[buf.length - 5]! ^= 0x20;
    writeFileSync(f, buf);
    const back = restore(dir, s);
    expect(back.r).toMatchObject({ version: 5, path: 'chain' });
    expect(diffState(snaps[4]!, back.into, back.r.blobs)).toBeNull();
    expect(back.logs.join('\n')).toContain(`${vn(5)}.flat`);
    const rep = await verifyCheckpoints(dir);
    expect(rep.ok).toBe(false);
    expect(rep.flats).toEqual([{ version: 5, problems: [expect.stringContaining('checksum mismatch')] }]);
    expect(rep.versions.every((v) => v.problems.length === 0)).toBe(true);
  });

  it('a damaged increment that a flat file covers does not stop recovery of that version', () => {
    const dir = tmp();
    const { s, snaps } = chain(dir, 4);
    const f = join(dir, `${vn(3)}.bin`);
    const buf = readFileSync(f);
    buf[40]! ^= 1;
    writeFileSync(f, buf);
    const back = restore(dir, s);
    expect(back.r).toMatchObject({ version: 4, path: 'flat' });
    expect(diffState(snaps[3]!, back.into, back.r.blobs)).toBeNull();
  });

  it('a flat file of another chain (a data file CRC differs) is not used', () => {
    const dir = tmp();
    const { s, snaps } = chain(dir, 4);
    const p = join(dir, `${vn(4)}.flat.json`);
    const m = flatManifest(dir, 4);
    m.merged![0]!.crc32 = '00000000';
    m.selfSha256 = manifestSelfHash(m); // a well-formed manifest, merged from a v2 this chain does not have
    writeFileSync(p, JSON.stringify(m));
    const back = restore(dir, s);
    expect(back.r).toMatchObject({ version: 4, path: 'chain' });
    expect(back.logs.join('\n')).toContain('merged from another chain');
    expect(diffState(snaps[3]!, back.into, back.r.blobs)).toBeNull();
  });

  it('flatBudget: a new full base once the flat increment outgrows the given fraction of the base', () => {
    const dir = tmp();
    const s = makeState(8, [4000], 4);
    const rng = new Rng(8);
    const store = CheckpointStore.open({ dir, threshold: 0, fullEvery: 100, keepChains: 0, flatBudget: 0.2 });
    const kinds: string[] = [];
    for (let k = 0; k < 12; k++) {
      if (k > 0) {
        // 100 fresh rows per step: the flat grows by ~100 rows each version
        for (let q = 0; q < 100; q++) {
          const r = (k * 100 + q) % 4000;
          s.tables[0]!.weights[r * 4]! += 1;
          s.tables[0]!.touched[r >>> 3]! |= 1 << (r & 7);
        }
      }
      const r = store.save(s);
      kinds.push(r.kind);
      if (r.flat) expect(r.flat.bytes).toBeLessThanOrEqual(0.2 * 4000 * 20 * 1.3);
    }
    // base 4000 rows × 20 B; each increment 100 rows × 24 B: the flat passes 20 % of the base after ~7 increments
    expect(kinds.filter((k) => k === 'full').length).toBeGreaterThanOrEqual(2);
    expect(kinds.slice(0, 6)).toEqual(['full', 'incr', 'incr', 'incr', 'incr', 'incr']);
  });

  it('rows copied as float64 pairs keep every float32 bit pattern (NaN payloads, infinities, -0)', () => {
    const rng = new Rng(4);
    const rows = 64;
    const dim = 8;
    const src = new Uint32Array(rows * dim);
    for (let i = 0; i < src.length; i++) src[i] = rng.int(2 ** 32);
    // upper halves of pairs that make the float64 a NaN or infinity, and float32 NaNs with payloads
    for (let i = 1; i < src.length; i += 4) src[i] = 0x7ff00000 | (src[i]! & 0x800fffff);
    for (let i = 2; i < src.length; i += 6) src[i] = 0x7f800001 + (i & 0x3fffff);
    src[3] = 0x80000000;
    const ids = Int32Array.from({ length: rows }, (_, k) => 2 * k + 1);
    const dst32 = new Float32Array(2 * rows * dim + 2 * dim);
    copyRowsAt(new Float64Array(dst32.buffer), new Float64Array(src.buffer), ids, 0, rows, dim / 2);
    const out = new Uint32Array(dst32.buffer);
    for (let k = 0; k < rows; k++) for (let j = 0; j < dim; j++) expect(out[ids[k]! * dim + j]).toBe(src[k * dim + j]);
  });
});
