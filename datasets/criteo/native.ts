/**
 * Loads the optional parse addon (`native/parse/build/Release/parse.node`, built
 * by `npm run build:addon`): C++ twins of {@link CriteoLineParser.parse}'s line
 * loop and {@link U32IndexTable.mapAndCount}. Loading never throws: when the
 * addon is missing or broken the TypeScript code runs, with the same output.
 * `HOTCOLD_PARSE_ADDON=/path/parse.node` overrides the location;
 * `HOTCOLD_PARSER=ts` makes `auto` choose TypeScript (for comparisons).
 *
 * Both kernels stop at anything unusual (a malformed line, a table that must
 * grow) and hand back to the TypeScript code, which therefore stays the only
 * place that builds error messages and grows tables.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { PipelineError } from '../../pipeline/errors.js';
import { packagePath } from '../../pipeline/package-root.js';

/** What native/parse/parse.cc exports. */
export interface ParseAddon {
  /**
   * Parse complete lines of `buf[pos, end)` into batch columns from row `state[0]`;
   * stops at the range end, a full batch, or the start of a malformed line (`state[3] = 1`).
   * `state`: [rows, lines consumed, data lines, stopped at a bad line].
   * From version 2: `skipFields` leading fields dropped per line (Kaggle's CSV with an Id column) and
   * `noLabel` lines that start at I1 (Kaggle's unlabelled test.txt; label 0 stored); version 1 takes neither.
   * @returns the position after the last line consumed
   */
  parseLines(
    buf: Uint8Array, pos: number, end: number, delim: number,
    label: Int8Array, dense: Float64Array, cats: Uint32Array, present: Uint8Array, capacity: number,
    state: Int32Array, skipFields?: number, noLabel?: boolean,
  ): number;
  /**
   * The id-table loop; stops before the first new key that needs the counts array
   * or the table to grow. `state`: [size, missing, mask, shift, limit] (size, missing updated).
   * @returns rows done
   */
  mapAndCount(
    vals: Uint32Array, present: Uint8Array, base: number, n: number, out: Int32Array, outOff: number, firstId: number,
    keys: Uint32Array, slots: Int32Array, counts: Uint32Array, state: Float64Array,
  ): number;
  /**
   * One dense column of the DLRM transform (`stages/preprocess/ops/log-dense.ts`):
   * `out[outOff + r]` = `lut[x]` for an integer `x = src[base + r]` in [0, lut.length),
   * 0 for x ≤ 0 or NaN; the other rows are listed in `miss` for the caller (Math.log1p).
   * Absent in addons built before it (the TS loop runs then).
   * @returns how many rows were listed in `miss`
   */
  logDense?(src: Float64Array, base: number, n: number, lut: Float32Array, out: Float32Array, outOff: number, miss: Int32Array): number;
  /** {@link ParseAddon.parseLines} without the vector line path (version 3; for tests and comparisons) */
  parseLinesScalar?: ParseAddon['parseLines'];
  /** which line path parseLines takes on this CPU: `avx2` or `none` (version 3) */
  simd?: string;
  /**
   * Bytes [offset, offset + length) of a regular file (cut at its end; offset a multiple of the page
   * size, length ≤ 2^30) mapped read-only as an external Buffer (unmapped when collected), or -errno
   * (-EINVAL for a bad window or an offset past the end; the caller reads the file instead). Version 4.
   */
  mapFile?(path: string, offset: number, length: number): Buffer | number;
  /**
   * madvise a range of a {@link ParseAddon.mapFile} Buffer: 0 = WILLNEED (read ahead), 1 = DONTNEED
   * (drop the process's mapping of parsed pages; they stay cached). Throws for any other memory.
   * Version 4. @returns 0 or -errno
   */
  adviseMapped?(buf: Buffer, offset: number, length: number, advice: 0 | 1): number;
  version: number;
}

/** Which parser/categorify kernels to use: `auto` = native when built. */
export type ParserChoice = 'auto' | 'native' | 'ts';

let cached: { addon: ParseAddon | null; error: string } | null = null;

/** Where the addon is looked for. */
export function parseAddonPath(): string {
  const override = process.env.HOTCOLD_PARSE_ADDON;
  if (override) return path.resolve(override);
  // from the package root, as the BLAS addon is found (the sources, dist/ and dist/bundle/ alike)
  return packagePath('native', 'parse', 'build', 'Release', 'parse.node');
}

function isAddon(x: unknown): x is ParseAddon {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return typeof o.parseLines === 'function' && typeof o.mapAndCount === 'function' && typeof o.version === 'number' && o.version >= 1 && o.version <= 4;
}

/** Load once (per thread) and cache the outcome. */
export function loadParseAddon(): { addon: ParseAddon | null; error: string } {
  if (cached) return cached;
  try {
    const mod: unknown = createRequire(import.meta.url)(parseAddonPath());
    cached = isAddon(mod) ? { addon: mod, error: '' } : { addon: null, error: 'module does not export parseLines/mapAndCount version 1 to 4' };
  } catch (err) {
    const msg = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    cached = { addon: null, error: msg };
  }
  return cached;
}

/**
 * The addon for a choice: `ts` → null; `native` → the addon or a `bad_config`
 * error saying how to build it; `auto` → the addon when it loads (and
 * `HOTCOLD_PARSER` is not `ts`), else null.
 */
export function resolveParser(choice: ParserChoice = 'auto'): ParseAddon | null {
  if (choice === 'ts') return null;
  if (choice === 'auto' && process.env.HOTCOLD_PARSER === 'ts') return null;
  const { addon, error } = loadParseAddon();
  if (!addon && choice === 'native') {
    throw new PipelineError('bad_config', `the native parser is not built (${error})`, { field: 'parser', hint: 'run `npm run build:addon` (needs g++ and make), or use --parser ts' });
  }
  return addon;
}
