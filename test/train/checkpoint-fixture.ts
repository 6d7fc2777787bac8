/** Synthetic TrainState objects for the checkpoint tests (no trainer needed). */
import { Rng } from '../../pipeline/rng.js';
import { CheckpointStore, type Blob, type TrainState } from '../../stages/train/checkpoint/index.js';
import { useTempDirs } from '../fixtures/temp.js';

/** A state with a few tables of the given sizes, random weights, dense arrays and blobs. */
export function makeState(seed: number, sizes: number[] = [40, 300, 1000, 7], dim = 4, accum = true): TrainState {
  const rng = new Rng(seed);
  const fill = (a: Float32Array): Float32Array => {
    for (let i = 0; i < a.length; i++) a[i] = rng.float() - 0.5;
    return a;
  };
  return {
    dense: { 'bot.0.w': fill(new Float32Array(13 * 8)), 'bot.0.b': fill(new Float32Array(8)), 'opt.state': fill(new Float32Array(112)) },
    tables: sizes.map((rows, i) => ({
      name: `C${i + 1}`,
      rows,
      dim,
      weights: fill(new Float32Array(rows * dim)),
      accum: accum ? new Float32Array(rows).fill(0.1) : null,
      touched: new Uint8Array((rows + 7) >>> 3),
    })),
    blobs: { order: Int32Array.from({ length: 17 }, (_, i) => i * 3), snap: new Float64Array([1.5, -2, 3.25]), mask: new Uint8Array([1, 0, 1]) },
    position: { epoch: 0, batch: 0, rng: [1, 2, 3, 4] },
    config: { mode: 'baseline', seed, model: { dim } },
  };
}

/** A zeroed state with the same shapes (what a resumed trainer starts from). */
export function emptyLike(s: TrainState): TrainState {
  return {
    dense: Object.fromEntries(Object.entries(s.dense).map(([k, v]) => [k, new Float32Array(v.length)])),
    tables: s.tables.map((t) => ({
      ...t,
      weights: new Float32Array(t.weights.length),
      accum: t.accum ? new Float32Array(t.accum.length) : null,
      touched: new Uint8Array(t.touched.length),
    })),
    blobs: {},
    position: {},
    config: s.config,
  };
}

export function setTouched(t: Uint8Array, r: number): void {
  t[r >>> 3] = t[r >>> 3]! | (1 << (r & 7));
}

export function isTouched(t: Uint8Array, r: number): boolean {
  return (t[r >>> 3]! & (1 << (r & 7))) !== 0;
}

/**
 * One simulated training step: `n` skewed row updates per table (like Adagrad:
 * weights move, accumulators grow, touched bits set), dense arrays all move.
 */
export function trainStep(s: TrainState, rng: Rng, n = 20, scale = 0.01): void {
  for (const t of s.tables) {
    for (let k = 0; k < n; k++) {
      const r = Math.floor(t.rows * rng.float() ** 3); // skewed toward low ids
      for (let j = 0; j < t.dim; j++) t.weights[r * t.dim + j]! += scale * (rng.float() - 0.5);
      if (t.accum) t.accum[r]! += rng.float();
      setTouched(t.touched, r);
    }
  }
  for (const a of Object.values(s.dense)) for (let i = 0; i < a.length; i++) a[i]! += scale * (rng.float() - 0.5);
  (s.blobs.order as Int32Array)[0]! += 1;
  s.position = { ...s.position, batch: Number(s.position.batch ?? 0) + 1 };
}

function bytes(a: Blob | Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Deep copy of the parameter arrays (not touched bits), for later bit-for-bit comparison. */
export function snapshot(s: TrainState): TrainState {
  return {
    dense: Object.fromEntries(Object.entries(s.dense).map(([k, v]) => [k, v.slice()])),
    tables: s.tables.map((t) => ({ ...t, weights: t.weights.slice(), accum: t.accum ? t.accum.slice() : null, touched: t.touched.slice() })),
    blobs: Object.fromEntries(Object.entries(s.blobs).map(([k, v]) => [k, v.slice()])),
    position: structuredClone(s.position),
    config: s.config,
  };
}

/** First difference between two states' parameters, blobs and position, or null when bit-identical. */
export function diffState(a: TrainState, b: TrainState, blobsB: Record<string, Blob> = b.blobs): string | null {
  for (const [k, v] of Object.entries(a.dense)) {
    const w = b.dense[k];
    if (!w || !bytes(v).equals(bytes(w))) return `dense ${k}`;
  }
  for (let i = 0; i < a.tables.length; i++) {
    const x = a.tables[i]!;
    const y = b.tables[i]!;
    if (!bytes(x.weights).equals(bytes(y.weights))) return `table ${x.name} weights`;
    if (x.accum && (!y.accum || !bytes(x.accum).equals(bytes(y.accum)))) return `table ${x.name} accum`;
  }
  for (const [k, v] of Object.entries(a.blobs)) {
    const w = blobsB[k];
    if (!w || w.constructor !== v.constructor || !bytes(v).equals(bytes(w))) return `blob ${k}`;
  }
  return null;
}

/** A test file's temp-dir maker: each call makes a directory, removed after the test. */
export function tempDirs(): () => string {
  return useTempDirs('hotcold-ckpt-');
}

/** Restore the newest valid version of `dir` into fresh arrays shaped like `like`, collecting log lines. */
export function restoreFresh(dir: string, like: TrainState, threshold = 0) {
  const into = emptyLike(like);
  const logs: string[] = [];
  const r = CheckpointStore.open({ dir, threshold, fullEvery: 8, log: (m) => logs.push(m) }).restore(into);
  return { into, r, logs };
}

/**
 * Train `s` with `rng` and save versions 1..n (threshold 0, no pruning, the given fullEvery;
 * `flat` false: no flat increments, so recovery reads every increment).
 * @returns the live state and a snapshot after each version
 */
export function saveChain(dir: string, n: number, fullEvery: number, s: TrainState, rng: Rng, flat = true): { s: TrainState; snaps: TrainState[] } {
  const store = CheckpointStore.open({ dir, threshold: 0, fullEvery, keepChains: 0, flat });
  const snaps: TrainState[] = [];
  for (let k = 0; k < n; k++) {
    trainStep(s, rng);
    store.save(s);
    snaps.push(snapshot(s));
  }
  return { s, snaps };
}
