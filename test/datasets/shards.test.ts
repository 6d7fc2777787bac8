import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { columnsIn, decodeTemplate, layoutFor, learnLayout, sealInPlace } from '../../datasets/shard-layout.js';
import { decodeShard, encodeShard, encodeShardArrow, readShardFile, ShardBuilder, writeShardFile, type ShardColumns } from '../../datasets/shards.js';
import { Rng } from '../../pipeline/rng.js';

describe('Arrow shards', () => {
  it('round-trips rows through the builder and an IPC file', () => {
    const b = new ShardBuilder(16);
    const dense = new Float32Array(13);
    const cats = new Int32Array(26);
    for (let r = 0; r < 100; r++) {
      dense.fill(r / 10);
      cats.fill(r);
      cats[25] = r * 7;
      b.append(r % 2, dense, 0, cats, 0);
    }
    const cols = b.flush();
    expect(b.rows).toBe(0);
    const d = mkdtempSync(join(tmpdir(), 'hotcold-shard-'));
    try {
      const p = join(d, 's.arrow');
      writeShardFile(p, cols);
      const back = readShardFile(p);
      expect(back.rows).toBe(100);
      expect(back.label[99]).toBe(1);
      expect(back.dense[12]![50]).toBeCloseTo(5);
      expect(back.cats[25]![99]).toBe(693);
      expect(back.cats[0]![42]).toBe(42);
      writeFileSync(join(d, 'bad.arrow'), 'not arrow');
      expect(() => readShardFile(join(d, 'bad.arrow'))).toThrow(/bad\.arrow|Arrow/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('the template encoder writes apache-arrow\'s bytes exactly, into a reused buffer too', () => {
    const rng = new Rng(9);
    const random = (n: number): ShardColumns => ({
      rows: n,
      label: Int8Array.from({ length: n }, () => (rng.float() < 0.25 ? 1 : 0)),
      dense: Array.from({ length: 13 }, () => Float32Array.from({ length: n }, () => rng.float() * 10)),
      cats: Array.from({ length: 26 }, () => Int32Array.from({ length: n }, () => Math.floor(rng.float() * 2 ** 31) - 2 ** 30)),
    });
    const sizes = [1, 2, 3, 5, 7, 8, 9, 63, 64, 1000, 4097];
    for (let i = 0; i < 6; i++) sizes.push(1 + Math.floor(rng.float() * 20_000));
    for (const n of sizes) {
      const cols = random(n);
      const want = encodeShardArrow(cols);
      // the template (shard-template.ts, no apache-arrow) is the layout apache-arrow's bytes show
      expect(layoutFor(n), `layout for ${n} rows`).toEqual(learnLayout(cols, want));
      const got = encodeShard(cols);
      expect(Buffer.from(got).equals(Buffer.from(want)), `${n} rows`).toBe(true);
      const reused = encodeShard(random(n));
      const again = encodeShard(cols, reused);
      expect(again.buffer).toBe(reused.buffer);
      expect(Buffer.from(again).equals(Buffer.from(want)), `${n} rows, reused buffer`).toBe(true);
      // built in place (columns written into the shard's own buffer, over stale bytes), then sealed
      const inPlace = encodeShard(random(n)).fill(0xa5);
      const views = columnsIn(inPlace, layoutFor(n));
      views.label.set(cols.label);
      for (let f = 0; f < 13; f++) views.dense[f]!.set(cols.dense[f]!);
      for (let f = 0; f < 26; f++) views.cats[f]!.set(cols.cats[f]!);
      expect(Buffer.from(sealInPlace(inPlace, layoutFor(n))).equals(Buffer.from(want)), `${n} rows, built in place`).toBe(true);
      const viaTemplate = decodeTemplate(again, n)!;
      expect(viaTemplate.cats[25]).toEqual(cols.cats[25]);
      expect(viaTemplate.dense[12]).toEqual(cols.dense[12]);
      expect(viaTemplate.label).toEqual(cols.label);
      expect(decodeTemplate(again, n + 1)).toBeNull();
      const back = decodeShard(again);
      expect(back.rows).toBe(n);
      expect(back.cats[25]).toEqual(cols.cats[25]);
      expect(back.dense[0]).toEqual(cols.dense[0]);
    }
    // an empty shard goes through apache-arrow (its metadata differs in shape)
    const empty = random(0);
    expect(Buffer.from(encodeShard(empty)).equals(Buffer.from(encodeShardArrow(empty)))).toBe(true);
    expect(() => layoutFor(0)).toThrow(RangeError);
  });
});
