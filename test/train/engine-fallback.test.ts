import { describe, expect, it } from 'vitest';
import path from 'node:path';
import os from 'node:os';
import { PipelineError } from '../../pipeline/errors.js';

// Point the loader at a file that does not exist before the engine module is first imported:
// this is what a machine without a built addon looks like.
process.env.HOTCOLD_BLAS_ADDON = path.join(os.tmpdir(), 'hotcold-no-such-dir', 'blas.node');
const { createEngine, blasAvailable } = await import('../../stages/train/engine/engine.js');

describe('engine without the BLAS addon', () => {
  it('auto falls back to the TypeScript engine', () => {
    expect(blasAvailable()).toBe(false);
    expect(createEngine('auto').name).toBe('ts');
    expect(createEngine('auto').kernels.name).toBe('ts');
  });
  it('blas is a bad_config error with a build hint', () => {
    let err: unknown = null;
    try { createEngine('blas'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('bad_config');
    expect((err as PipelineError).hint).toMatch(/npm run build:addon/);
    expect((err as PipelineError).message).toContain('hotcold-no-such-dir');
  });
});
