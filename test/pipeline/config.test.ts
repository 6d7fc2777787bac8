import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { applyOverrides, parseBytes, parseConfig } from '../../pipeline/config.js';
import { PipelineError } from '../../pipeline/errors.js';

describe('config loading', () => {
  const schema = z.strictObject({ lr: z.number().positive(), model: z.strictObject({ dim: z.number().int() }) });

  it('reports every issue with its path', () => {
    try {
      parseConfig(schema, { lr: -1, model: { dim: 1.5 }, extra: 1 }, 'cfg.json');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PipelineError);
      const msg = (e as Error).message;
      expect(msg).toMatch(/lr:/);
      expect(msg).toMatch(/model\.dim:/);
      expect(msg).toMatch(/extra/);
    }
  });

  it('applies dotted overrides with JSON values and leaves the base untouched', () => {
    const base = { lr: 0.1, model: { dim: 16 } };
    const out = applyOverrides(base, ['model.dim=8', 'lr=0.5', 'name=run-a']);
    expect(out).toEqual({ lr: 0.5, model: { dim: 8 }, name: 'run-a' });
    expect(base.model.dim).toBe(16);
    expect(() => applyOverrides(base, ['nonsense'])).toThrow(/not key=value/);
    expect(() => applyOverrides(base, ['lr.x=1'])).toThrow(/cannot set a field inside/);
  });

  it('parses byte sizes', () => {
    expect(parseBytes('256MiB')).toBe(256 * 1024 * 1024);
    expect(parseBytes('1GB')).toBe(1e9);
    expect(parseBytes('4096')).toBe(4096);
    expect(parseBytes('1.5KiB')).toBe(1536);
    expect(() => parseBytes('lots')).toThrow(/not a byte size/);
  });
});
