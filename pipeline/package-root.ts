/**
 * Where this package's files are, whether the code runs from the TypeScript sources (tsx,
 * vitest) or compiled into `dist/` (`npm run build`, run by `npm ci` through `prepare`).
 * `dist/` mirrors the source tree, so non-code files (package.json, configs/, native/) are
 * found from the package root rather than relative to the running module.
 */
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url)); // <root>/pipeline, <root>/dist/pipeline or <root>/dist/bundle
const up = dirname(here);

/** True when this module runs from the compiled `dist/` tree (tsc output or the bundle). */
export const RUNNING_COMPILED = basename(up) === 'dist' && !import.meta.url.endsWith('.ts');

/** True when it runs from the esbuild bundle `dist/bundle/` (scripts/bundle.mjs). */
export const RUNNING_BUNDLED = RUNNING_COMPILED && basename(here) === 'bundle';

/** The package root (the folder holding package.json). */
export const PACKAGE_ROOT = RUNNING_COMPILED ? dirname(up) : up;

/** A path inside the package root. */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}

/**
 * The command line a child process runs to be `hotcold`, in the same form as this process:
 * the bundle or the compiled `dist/bin/hotcold.js` when running compiled, else the TypeScript
 * entry through tsx (tests and `npm run hotcold`, so children never run a stale build).
 */
export function hotcoldCommand(): string[] {
  if (RUNNING_BUNDLED) return [packagePath('dist', 'bundle', 'hotcold.js')];
  return RUNNING_COMPILED
    ? [packagePath('dist', 'bin', 'hotcold.js')]
    : ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, packagePath('bin', 'hotcold.ts')];
}
