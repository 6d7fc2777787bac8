import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import { BLOCK_ROWS, generateRows, SyntheticGenerator } from '../../datasets/synthetic/generator.js';
import { dayStarts, kaggleTestVal, resolveOptions } from '../../datasets/synthetic/options.js';

function text(rows: number, seed: number, extra: object = {}): Buffer {
  return Buffer.concat([...generateRows({ rows, seed, ...extra })]);
}

describe('synthetic generator: determinism and format', () => {
  it('same seed gives the same bytes; another seed gives other bytes', () => {
    const a = text(3000, 7);
    const b = text(3000, 7);
    const c = text(3000, 8);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
  });

  it('a longer run starts with the bytes of a shorter one within the first day', () => {
    const short = text(1000, 3, { days: 1 });
    const long = text(5000, 3, { days: 1 });
    expect(long.subarray(0, short.length).equals(short)).toBe(true);
  });

  it('writes 40 tab-separated fields: 0/1 label, integers, 8-digit lowercase hex, empty = missing', () => {
    const lines = text(5000, 11).toString('utf8').split('\n');
    expect(lines.pop()).toBe(''); // ends with a newline
    expect(lines).toHaveLength(5000);
    const int = '(\\d*)';
    const cat = '((?:[0-9a-f]{8})?)';
    const row = new RegExp(`^[01]\\t${int}\\t(-?\\d*)${`\\t${int}`.repeat(11)}${`\\t${cat}`.repeat(26)}$`);
    let negatives = 0;
    let empty = 0;
    const bad: string[] = [];
    for (const line of lines) {
      const m = row.exec(line);
      if (!m) {
        bad.push(line);
        continue;
      }
      for (let j = 1; j < m.length; j++) if (m[j] === '') empty++;
      if (m[2]!.startsWith('-')) negatives++;
    }
    expect(bad).toEqual([]); // the pattern has exactly 40 tab-separated fields
    expect(negatives).toBeGreaterThan(0); // I2 has negatives, as in the real data
    expect(empty / (5000 * 39)).toBeGreaterThan(0.1);
  });

  it('different ranks of a feature never share an id', () => {
    const g = new SyntheticGenerator({ rows: 1, seed: 5 }, false);
    for (let f = 0; f < 26; f++) {
      const ids = new Set<number>();
      const k = Math.min(g.model.cardinalities[f]!, 5000);
      for (let r = 0; r < k; r++) ids.add(g.model.hexId(f, r));
      expect(ids.size).toBe(k);
    }
  });

  it('blocks never cross a day boundary and follow DLRM divmod day sizes', () => {
    expect(dayStarts(10_000, 7)).toEqual([0, 1429, 2858, 4287, 5716, 7144, 8572, 10000]);
    expect(kaggleTestVal(10_000)).toEqual({ test: [8572, 9286], val: [9286, 10000] });
    const g = new SyntheticGenerator({ rows: 3 * BLOCK_ROWS, seed: 1, days: 5 }, false);
    const starts = g.dayStarts;
    for (let b = g.nextBlock(); b; b = g.nextBlock()) {
      expect(b.firstRow).toBeGreaterThanOrEqual(starts[b.day]!);
      expect(b.firstRow + b.n).toBeLessThanOrEqual(starts[b.day + 1]!);
    }
  });

  it('rejects bad options with a bad_config error naming the option', () => {
    const bad: [object, string][] = [
      [{ rows: 0 }, 'rows'],
      [{ rows: 10, scale: 0 }, 'scale'],
      [{ rows: 10, drift: 1.5 }, 'drift'],
      [{ rows: 10, days: 0 }, 'days'],
      [{ rows: 10, ctr: 1 }, 'ctr'],
      [{ rows: 1.5 }, 'rows'],
    ];
    for (const [o, field] of bad) {
      let err: unknown;
      try {
        resolveOptions(o as { rows: number });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PipelineError);
      expect((err as PipelineError).code).toBe('bad_config');
      expect((err as PipelineError).field).toBe(field);
    }
  });
});
