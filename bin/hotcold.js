#!/usr/bin/env node
// Entry shim for `npx hotcold`: run the compiled CLI (dist/, built by `npm ci` through the
// package's `prepare` script, or `npm run build`): the esbuild bundle when present (fastest start),
// else the plain tsc output. Development without a build: `npm run hotcold`.
import { existsSync } from 'node:fs';

const bundled = new URL('../dist/bundle/hotcold.js', import.meta.url);
const compiled = new URL('../dist/bin/hotcold.js', import.meta.url);
if (existsSync(bundled)) {
  await import(bundled.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  const deps = existsSync(new URL('../node_modules/commander/package.json', import.meta.url));
  process.stderr.write(
    deps
      ? 'hotcold: the compiled CLI (dist/) is missing: run `npm run build` (or `npm ci`) first; `npm run hotcold` runs the TypeScript sources\n'
      : 'hotcold: dependencies are not installed: run `npm ci` first (it also builds dist/)\n',
  );
  process.exit(1);
}
