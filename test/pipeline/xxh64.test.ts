import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sha256 } from '../../pipeline/hash.js';
import { verifyFiles } from '../../pipeline/manifest.js';
import { Rng } from '../../pipeline/rng.js';
import { createXxh64, nativeXxh64, xxh64, xxh64File, Xxh64Ts } from '../../pipeline/xxh64.js';
import { expectCode, useTempDirs } from '../fixtures/temp.js';

const tmp = useTempDirs('hotcold-xxh64-');

/** bytes (i·131 + 7) mod 256, i < len */
function pattern(len: number): Uint8Array {
  const d = new Uint8Array(len);
  for (let i = 0; i < len; i++) d[i] = (i * 131 + 7) & 255;
  return d;
}

/** XXH64 (seed 0) of {@link pattern}(len), as printed by the reference tool (`xxhsum -H1`, xxHash 0.8.1) */
const KNOWN: [number, string][] = [
  [0, 'ef46db3751d8e999'],
  [1, 'a96c7f0ce858bbb7'],
  [3, 'bed43740ee6332bb'],
  [4, 'fa212ae44b3bb23d'],
  [7, '2744460dd675d2c0'],
  [8, '994b676b71ce94dd'],
  [31, '6711d55e306b5d8f'],
  [32, '07f7b8e3bc5d6e25'],
  [33, '09f85eeb4e1cbe9f'],
  [100, '9ddada11d3dc2d8f'],
  [1000, '0bf0bdbcc82eb373'],
  [4099, 'c2c15a86d6a1985b'],
];

function ts(data: Uint8Array, pieces: number[] = [data.length]): string {
  const h = new Xxh64Ts();
  let o = 0;
  for (const k of pieces) {
    h.update(data.subarray(o, o + k));
    o += k;
  }
  h.update(data.subarray(o));
  return h.digest();
}

const native = nativeXxh64();

describe('XXH64', () => {
  afterEach(() => {
    delete process.env.HOTCOLD_HASH;
  });

  it('the TypeScript twin gives the reference digests (every tail length, below and above one stripe)', () => {
    expect(ts(new TextEncoder().encode('abc'))).toBe('xxh64:44bc2cf5ad770999');
    for (const [len, hex] of KNOWN) expect(ts(pattern(len)), `length ${len}`).toBe(`xxh64:${hex}`);
  });

  it('does not depend on how the bytes are split into updates, nor on their alignment', () => {
    const rng = new Rng(3);
    const big = new Uint8Array(200_001);
    for (let i = 0; i < big.length; i++) big[i] = rng.int(256);
    const whole = ts(big);
    for (let t = 0; t < 5; t++) {
      const pieces: number[] = [];
      for (let left = big.length; left > 0; ) {
        const k = Math.min(left, rng.int(t < 2 ? 70 : 100_000));
        pieces.push(k);
        left -= k;
      }
      expect(ts(big, pieces)).toBe(whole);
    }
    // a view starting at an odd byte
    const shifted = new Uint8Array(big.length + 3);
    shifted.set(big, 3);
    expect(ts(shifted.subarray(3))).toBe(whole);
  });

  it.skipIf(!native)('the native kernel equals the TypeScript twin on random lengths, contents and splits', () => {
    const rng = new Rng(11);
    for (const [len, hex] of KNOWN) expect(xxh64(pattern(len))).toBe(`xxh64:${hex}`);
    for (let t = 0; t < 60; t++) {
      const len = t < 40 ? rng.int(300) : rng.int(3_000_000);
      const d = new Uint8Array(len);
      for (let i = 0; i < len; i++) d[i] = rng.int(256);
      const h = createXxh64();
      let o = 0;
      while (o < len) {
        const k = Math.min(len - o, 1 + rng.int(t % 2 ? 50 : 1 << 20));
        h.update(d.subarray(o, o + k));
        o += k;
      }
      expect(h.digest(), `length ${len}`).toBe(ts(d));
    }
  });

  it('HOTCOLD_HASH=ts gives the TypeScript twin, with the same digests', async () => {
    const d = tmp();
    const p = join(d, 'f.bin');
    const bytes = pattern(123_457);
    writeFileSync(p, bytes);
    const fast = await xxh64File(p);
    process.env.HOTCOLD_HASH = 'ts';
    expect(nativeXxh64()).toBeNull();
    expect(createXxh64()).toBeInstanceOf(Xxh64Ts);
    expect(await xxh64File(p)).toBe(fast);
    expect(fast).toBe(ts(bytes));
  });

  const xxhsum = spawnSync('xxhsum', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!xxhsum)('matches `xxhsum -H1` on a file (when the reference tool is installed)', async () => {
    const d = tmp();
    const p = join(d, 'f.bin');
    const rng = new Rng(5);
    const bytes = new Uint8Array(1_000_003);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
    writeFileSync(p, bytes);
    const out = spawnSync('xxhsum', ['-H1', p], { encoding: 'utf8' }).stdout.split(/\s+/)[0];
    expect(await xxh64File(p)).toBe(`xxh64:${out}`);
  });
});

describe('verifyFiles with named-algorithm checksums', () => {
  it('checks `hash: xxh64:…` entries and old `sha256` entries alike, and names a bad or unknown one', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.bin'), 'hello');
    writeFileSync(join(d, 'b.bin'), 'world');
    const a = { path: 'a.bin', bytes: 5, hash: xxh64(new TextEncoder().encode('hello')) };
    const b = { path: 'b.bin', bytes: 5, sha256: sha256('world') };
    await verifyFiles(d, [a, b]);
    const bad = await expectCode(verifyFiles(d, [{ ...a, hash: xxh64(new TextEncoder().encode('hellp')) }]), 'checksum');
    expect(bad.message).toMatch(/checksum mismatch: .*a\.bin/);
    await expectCode(verifyFiles(d, [{ ...b, sha256: sha256('x') }]), 'checksum');
    const unknown = await expectCode(verifyFiles(d, [{ ...a, hash: 'blake9:00' }]), 'bad_manifest');
    expect(unknown.message).toMatch(/unknown checksum algorithm 'blake9'/);
  });
});
