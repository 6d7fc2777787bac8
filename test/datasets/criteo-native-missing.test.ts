/** Without the parse addon: `auto` falls back to TypeScript, `native` is a clear bad_config error. */
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';

process.env.HOTCOLD_PARSE_ADDON = path.join(os.tmpdir(), 'hotcold-no-such-dir', 'parse.node');
const { loadParseAddon, resolveParser } = await import('../../datasets/criteo/native.js');

describe('parse addon missing', () => {
  it('auto → TypeScript (null), ts → null, native → bad_config naming the fix', () => {
    expect(loadParseAddon().addon).toBeNull();
    expect(loadParseAddon().error).toMatch(/hotcold-no-such-dir|Cannot find/);
    expect(resolveParser('auto')).toBeNull();
    expect(resolveParser('ts')).toBeNull();
    let err: unknown = null;
    try {
      resolveParser('native');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineError);
    expect((err as PipelineError).code).toBe('bad_config');
    expect((err as PipelineError).hint).toMatch(/npm run build:addon/);
  });
});
