import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readShardFile, ShardBuilder, writeShardFile } from '../../datasets/shards.js';

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
});
