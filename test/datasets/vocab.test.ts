import { describe, expect, it } from 'vitest';
import { VocabLookup } from '../../datasets/vocab.js';
import { Rng } from '../../pipeline/rng.js';

describe('VocabLookup', () => {
  it('id and mapColumn: value → its id (2…), unseen → 1, missing → 0, for uint32 values above 2^31 too', () => {
    const rng = new Rng(5);
    const values = new Uint32Array(5000);
    const seen = new Map<number, number>();
    for (let k = 0; k < values.length; k++) {
      let v: number;
      do v = Math.floor(rng.float() * 2 ** 32); while (seen.has(v));
      values[k] = v;
      seen.set(v, k + 2);
    }
    const lookup = new VocabLookup(values);
    const n = 20000;
    const raw = new Uint32Array(n);
    const present = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      raw[r] = rng.float() < 0.7 ? values[Math.floor(rng.float() * values.length)]! : Math.floor(rng.float() * 2 ** 32);
      present[r] = rng.float() < 0.9 ? 1 : 0;
    }
    const want = Array.from(raw, (v, r) => (present[r] ? seen.get(v) ?? 1 : 0));
    expect(Array.from(raw, (v, r) => (present[r] ? lookup.id(v) : 0))).toEqual(want);
    expect(Array.from(raw, (v, r) => (present[r] ? lookup.id(v | 0) : 0))).toEqual(want); // the int32 bit pattern too
    expect(want.filter((x) => x === 1).length).toBeGreaterThan(1000);
    expect(values.some((v) => v >= 2 ** 31)).toBe(true);
    // strided output, as rawBatches writes one feature of row-major ids
    const out = new Int32Array(3 * n).fill(-7);
    lookup.mapColumn(new Int32Array(raw.buffer), present, 0, n, out, 1, 3, 0);
    expect(Array.from({ length: n }, (_, r) => out[1 + 3 * r])).toEqual(want);
    expect(out.filter((x, i) => i % 3 !== 1 && x !== -7).length).toBe(0);
  });
});
