/**
 * Open-addressing hash table uint32 key → dense index (0, 1, 2, … in order of
 * first insertion), with a count per index. Linear probing, Fibonacci hashing, power-of-two capacity,
 * grows at 60 % load. Memory: 8 bytes per slot (keys + indices), no objects.
 * The full Kaggle file (10.1M distinct values in C3) needs 2^25 slots = 256 MiB.
 */

import type { ParseAddon } from './native.js';

const MAX_LOAD = 0.6;

export class U32IndexTable {
  /** distinct keys inserted */
  size = 0;
  /** per index: times seen through {@link U32IndexTable.mapAndCount} (length ≥ size) */
  counts = new Uint32Array(1024);
  /** cells seen missing through {@link U32IndexTable.mapAndCount} */
  missing = 0;
  private keys: Uint32Array;
  /** index + 1 per slot; 0 = empty slot */
  private slots: Int32Array;
  private mask: number;
  private shift: number;
  private limit: number;
  /** the native loop's in/out state: [size, missing, mask, shift, limit] */
  private readonly nativeState = new Float64Array(5);

  /**
   * @param initialCapacity slots, rounded up to a power of two @default 1024
   * @param native the parse addon: {@link U32IndexTable.mapAndCount} runs its C++ loop
   *   (same ids, counts and growth); null = TypeScript only
   */
  constructor(
    initialCapacity = 1024,
    readonly native: ParseAddon | null = null,
  ) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.keys = new Uint32Array(cap);
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.limit = Math.floor(cap * MAX_LOAD);
  }

  get capacity(): number {
    return this.slots.length;
  }

  /** Index of `key`, inserting it with the next index when new. @param key uint32 */
  getOrInsert(key: number): number {
    const keys = this.keys;
    const slots = this.slots;
    const mask = this.mask;
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const s = slots[i]!;
      if (s === 0) break;
      if (keys[i] === key) return s - 1;
      i = (i + 1) & mask;
    }
    const idx = this.size++;
    keys[i] = key;
    slots[i] = idx + 1;
    if (this.size > this.limit) this.grow();
    return idx;
  }

  /**
   * Map a column and count: for r in [0, n), when `present[base + r]` is set,
   * `out[outOff + r] = firstId + index(vals[base + r])` (inserting new keys) and
   * `counts[index]++`; otherwise `out[outOff + r] = 0` and `missing++`.
   * The hot loop of categorify.
   */
  mapAndCount(vals: Uint32Array, present: Uint8Array, base: number, n: number, out: Int32Array, outOff: number, firstId: number): void {
    const nat = this.native;
    if (!nat) {
      this.mapAndCountTs(vals, present, base, n, out, outOff, firstId);
      return;
    }
    const st = this.nativeState;
    for (let r = 0; r < n; ) {
      st[0] = this.size;
      st[1] = this.missing;
      st[2] = this.mask;
      st[3] = this.shift;
      st[4] = this.limit;
      r += nat.mapAndCount(vals, present, base + r, n - r, out, outOff + r, firstId, this.keys, this.slots, this.counts, st);
      this.size = st[0]!;
      this.missing = st[1]!;
      if (r < n) {
        // row r brings a key that needs more room: the TypeScript loop inserts it and grows
        this.mapAndCountTs(vals, present, base + r, 1, out, outOff + r, firstId);
        r++;
      }
    }
  }

  /** {@link U32IndexTable.mapAndCount} in TypeScript (the reference the native loop matches). */
  private mapAndCountTs(vals: Uint32Array, present: Uint8Array, base: number, n: number, out: Int32Array, outOff: number, firstId: number): void {
    let counts = this.counts;
    let missing = 0;
    let keys = this.keys;
    let slots = this.slots;
    let mask = this.mask;
    let shift = this.shift;
    for (let r = 0; r < n; r++) {
      if (present[base + r] === 0) {
        out[outOff + r] = 0;
        missing++;
        continue;
      }
      const key = vals[base + r]!;
      let i = Math.imul(key, 0x9e3779b1) >>> shift;
      let idx = -1;
      for (;;) {
        const s = slots[i]!;
        if (s === 0) break;
        if (keys[i] === key) {
          idx = s - 1;
          break;
        }
        i = (i + 1) & mask;
      }
      if (idx < 0) {
        idx = this.size++;
        keys[i] = key;
        slots[i] = idx + 1;
        if (idx >= counts.length) {
          const bigger = new Uint32Array(counts.length * 2);
          bigger.set(counts);
          counts = bigger;
          this.counts = counts;
        }
        if (this.size > this.limit) {
          this.grow();
          keys = this.keys;
          slots = this.slots;
          mask = this.mask;
          shift = this.shift;
        }
      }
      counts[idx]!++;
      out[outOff + r] = firstId + idx;
    }
    this.missing += missing;
  }

  /** The key of every index, in index (first-insertion) order: `out[index] = key`. */
  keysByIndex(): Uint32Array {
    const out = new Uint32Array(this.size);
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i]!;
      if (s !== 0) out[s - 1] = this.keys[i]!;
    }
    return out;
  }

  /** Index of `key`, or -1 when absent. */
  get(key: number): number {
    let i = Math.imul(key, 0x9e3779b1) >>> this.shift;
    for (;;) {
      const s = this.slots[i]!;
      if (s === 0) return -1;
      if (this.keys[i] === key) return s - 1;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldSlots = this.slots;
    const cap = oldSlots.length * 2;
    this.keys = new Uint32Array(cap);
    this.slots = new Int32Array(cap);
    this.mask = cap - 1;
    this.shift = 32 - Math.log2(cap);
    this.limit = Math.floor(cap * MAX_LOAD);
    const keys = this.keys;
    const slots = this.slots;
    for (let j = 0; j < oldSlots.length; j++) {
      const s = oldSlots[j]!;
      if (s === 0) continue;
      const k = oldKeys[j]!;
      let i = Math.imul(k, 0x9e3779b1) >>> this.shift;
      while (slots[i] !== 0) i = (i + 1) & this.mask;
      keys[i] = k;
      slots[i] = s;
    }
  }
}
