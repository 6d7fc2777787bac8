import { closeSync, constants, openSync, readFileSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PartWriter } from '../../stages/preprocess/part-writer.js';
import { nativeXxh64, xxh64 } from '../../pipeline/xxh64.js';
import { useTempDirs } from '../fixtures/temp.js';

const tmp = useTempDirs('hotcold-partwriter-');
const writers: PartWriter[] = [];
afterEach(async () => {
  for (const w of writers.splice(0)) await w.close();
});

/** Sizes around the 4 KiB block and the 4 MiB request of the direct path. */
const SIZES = [1, 4095, 4096, 4096 + 17, (4 << 20) - 1, (4 << 20) + 4099];

function bytesOf(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** Whether this filesystem takes O_DIRECT (ext4 does; tmpfs on older kernels does not). */
function takesDirect(dir: string): boolean {
  const p = join(dir, 'probe');
  try {
    closeSync(openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_DIRECT, 0o644));
    unlinkSync(p);
    return true;
  } catch {
    return false;
  }
}

describe('part writer', () => {
  for (const direct of [true, false]) {
    it(`writes every byte and returns its XXH64, whatever the size (direct I/O ${direct ? 'on' : 'off'})`, async () => {
      const dir = tmp();
      const w = new PartWriter({ directFromBytes: direct ? 0 : Number.POSITIVE_INFINITY });
      writers.push(w);
      const expected = SIZES.map((n, i) => bytesOf(n, i + 1));
      // all in flight at once: the two threads take them in turn
      const hashes = await Promise.all(expected.map((b, i) => w.write(join(dir, `f${i}`), b.slice())));
      for (let i = 0; i < SIZES.length; i++) {
        const got = readFileSync(join(dir, `f${i}`));
        expect(got.length).toBe(SIZES[i]);
        expect(Buffer.compare(got, expected[i]!)).toBe(0);
        expect(hashes[i]).toBe(xxh64(expected[i]!));
      }
      const native = nativeXxh64() !== null;
      expect(w.lastDirect).toBe(direct && native && takesDirect(dir));
    });
  }

  it('switches to direct I/O once the bytes written reach directFromBytes (--direct-io auto)', async () => {
    const dir = tmp();
    const w = new PartWriter({ directFromBytes: 10_000, threads: 1 });
    writers.push(w);
    const seen: (boolean | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const b = bytesOf(6000, i);
      expect(await w.write(join(dir, `f${i}`), b.slice())).toBe(xxh64(b));
      expect(Buffer.compare(readFileSync(join(dir, `f${i}`)), b)).toBe(0);
      seen.push(w.lastDirect);
    }
    // 0 and 6,000 bytes before the first two: buffered; 12,000 before the third: direct
    const d = nativeXxh64() !== null && takesDirect(dir);
    expect(seen).toEqual([false, false, d]);
  });

  it('reports a failed write as a system error naming the file', async () => {
    const dir = tmp();
    const w = new PartWriter();
    writers.push(w);
    const p = join(dir, 'missing-dir', 'part.arrow');
    await expect(w.write(p, bytesOf(5000, 9))).rejects.toMatchObject({ code: 'ENOENT', path: p });
  });
});
