/**
 * Config flows one way: schema defaults → a JSON config file → `--set key=value`
 * overrides. Unknown keys and wrong types are errors, and every problem is
 * reported at once with its path (zod issues).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { z } from 'zod';
import { badConfig, notFound, PipelineError } from './errors.js';

/** Format every zod issue as `path: message` lines. */
export function formatIssues(error: z.ZodError, source?: string): string {
  return error.issues
    .map((i) => {
      const path = i.path.length ? i.path.join('.') : '(root)';
      return `  ${source ? `${source}: ` : ''}${path}: ${i.message}`;
    })
    .join('\n');
}

/** The `--set key=value` argument an issue at `path` comes from, if any. */
function overrideFor(issue: z.core.$ZodIssue, overrides: readonly string[]): string | null {
  const base = issue.path.map(String).join('.');
  const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => (base ? `${base}.${k}` : k)) : [base];
  for (const o of overrides) {
    const key = o.slice(0, Math.max(0, o.indexOf('=')));
    if (paths.some((p) => p === key || key.startsWith(`${p}.`) || p.startsWith(`${key}.`))) return o;
  }
  return null;
}

/**
 * Validate `value` against `schema`, throwing one `bad_config` error listing every issue.
 * Issues in keys that a `--set` argument set are reported against that argument, not the file.
 * @param overrides the `--set key=value` arguments merged into `value`
 */
export function parseConfig<S extends z.ZodType>(schema: S, value: unknown, source = 'config', overrides: readonly string[] = []): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) {
    const first = r.error.issues[0];
    const lines = r.error.issues.map((i) => {
      const path = i.path.length ? i.path.join('.') : '(root)';
      const o = overrideFor(i, overrides);
      return `  ${o ? `--set ${o}` : source}: ${path}: ${i.message}`;
    });
    const fromSet = r.error.issues.every((i) => overrideFor(i, overrides) !== null);
    throw new PipelineError('bad_config', `invalid ${fromSet ? '--set value' : source}:\n${lines.join('\n')}`, {
      field: first?.path.join('.'),
      file: fromSet ? undefined : source,
    });
  }
  return r.data;
}

/** Read a JSON file, with clear errors for missing files and bad JSON. */
export function readJsonFile(path: string): unknown {
  if (!existsSync(path)) throw notFound('config file', path);
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new PipelineError('bad_config', `${path}: not valid JSON: ${(e as Error).message}`, { file: path });
  }
}

/** Parse a `--set` value: JSON when it parses (numbers, booleans, arrays), else a string. */
export function parseOverrideValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/**
 * Apply `key.path=value` overrides to a plain object (returns a deep copy).
 * @throws bad_config for malformed `key=value` text.
 */
export function applyOverrides(base: Record<string, unknown>, overrides: string[]): Record<string, unknown> {
  const out = structuredClone(base);
  for (const o of overrides) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw badConfig('--set', `'${o}' is not key=value`);
    const path = o.slice(0, eq).split('.');
    let cur: Record<string, unknown> = out;
    for (let i = 0; i < path.length - 1; i++) {
      const k = path[i]!;
      const next = cur[k];
      if (next === undefined) cur[k] = {};
      else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
        throw badConfig(path.slice(0, i + 1).join('.'), `cannot set a field inside a ${Array.isArray(next) ? 'list' : typeof next}`);
      }
      cur = cur[k] as Record<string, unknown>;
    }
    cur[path[path.length - 1]!] = parseOverrideValue(o.slice(eq + 1));
  }
  return out;
}

/** Parse a byte size like `256MiB`, `1.5GB`, `4096`. */
export function parseBytes(text: string, field = 'size'): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?i?b?)?\s*$/i.exec(text);
  if (!m) throw badConfig(field, `'${text}' is not a byte size (e.g. 256MiB, 1GB, 4096)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const pow = { '': 0, b: 0, k: 1, m: 2, g: 3, t: 4 }[unit.replace(/i?b$/, '') || ''] ?? 0;
  const base = unit.includes('i') ? 1024 : unit.length > 0 && unit !== 'b' ? 1000 : 1;
  return Math.floor(n * base ** pow);
}
