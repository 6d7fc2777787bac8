/**
 * Layering rule of the source tree (see the common brief): `datasets/` and
 * `pipeline/` never import a stage, `bin/` or `bench/`; a stage never imports
 * another stage (nor `bin/` or `bench/`).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (/\.ts$/.test(name) && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Project-relative paths a file imports (relative specifiers only). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    out.push(relative(ROOT, resolve(dirname(file), m[1]!)));
  }
  return out;
}

describe('source layout', () => {
  it('datasets/ and pipeline/ never import a stage, bin or bench', () => {
    const bad: string[] = [];
    for (const layer of ['datasets', 'pipeline']) {
      for (const f of sources(join(ROOT, layer))) {
        for (const i of imports(f)) if (/^(stages|bin|bench)\//.test(i)) bad.push(`${relative(ROOT, f)} → ${i}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('a stage never imports another stage, bin or bench', () => {
    const bad: string[] = [];
    for (const stage of readdirSync(join(ROOT, 'stages'))) {
      const dir = join(ROOT, 'stages', stage);
      if (!statSync(dir).isDirectory()) continue;
      for (const f of sources(dir)) {
        for (const i of imports(f)) {
          const m = /^stages\/([^/]+)\//.exec(i);
          if ((m && m[1] !== stage) || /^(bin|bench)\//.test(i)) bad.push(`${relative(ROOT, f)} → ${i}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });
});
