/**
 * Open-addressing hash table uint32 key → dense index (0, 1, 2, … in order of
 * first insertion). Linear probing, Fibonacci hashing, power-of-two capacity,
 * grows at 60 % load. Memory: 8 bytes per slot (keys + indices), no objects.
 * The full Kaggle file (10.1M distinct values in C3) needs 2^25 slots = 256 MiB.
 */

const MAX_LOAD = 0.6;

export class U32IndexTable {
  /** distinct keys inserted */
  size = 0;
  private keys: Uint32Array;
  /** index + 1 per slot; 0 = empty slot */
  private slots: Int32Array;
  private mask: number;
  private shift: number;
  private limit: number;

  /** @param initialCapacity slots, rounded up to a power of two @default 1024 */
  constructor(initialCapacity = 1024) {
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
