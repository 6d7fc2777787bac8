/**
 * Where this package's files are, whether the code runs from the TypeScript sources (tsx,
 * vitest) or compiled into `dist/` (`npm run build`, run by `npm ci` through `prepare`).
 * `dist/` mirrors the source tree, so non-code files (package.json, configs/, native/) are
 * found from the package root rather than relative to the running module.
 */
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url)); // <root>/pipeline or <root>/dist/pipeline
const up = dirname(here);

/** True when this module runs from the compiled `dist/` tree. */
export const RUNNING_COMPILED = basename(up) === 'dist' && !import.meta.url.endsWith('.ts');

/** The package root (the folder holding package.json). */
export const PACKAGE_ROOT = RUNNING_COMPILED ? dirname(up) : up;

/** A path inside the package root. */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}

/**
 * The command line a child process runs to be `hotcold`, in the same form as this process:
 * the compiled `dist/bin/hotcold.js` when running compiled, else the TypeScript entry through
 * tsx (tests and `npm run hotcold`, so children never run a stale build).
 */
export function hotcoldCommand(): string[] {
  return RUNNING_COMPILED
    ? [packagePath('dist', 'bin', 'hotcold.js')]
    : ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, packagePath('bin', 'hotcold.ts')];
}
