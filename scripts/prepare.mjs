// The package's `prepare` script (run by `npm ci` / `npm install` after the dependencies, and by
// `npx hotcold`, which links this checkout into npx's cache and prepares it there): builds dist/
// (`npm run build`: tsc, then the esbuild bundle). Without the dependencies — `npx hotcold` run
// before `npm ci` — it skips the build with a note and exits 0, so npx goes on to run
// bin/hotcold.js, whose shim says to run `npm ci` first. A failing prepare made npx exit 127
// without a word and left an entry without package.json in ~/.npm/_npx that kept `npx hotcold`
// failing (ENOENT) even after `npm ci`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
if (!existsSync(tsc)) {
  process.stderr.write('hotcold: prepare: dependencies are not installed, dist/ not built: run `npm ci` first\n');
  process.exit(0);
}
for (const args of [[tsc, '-p', 'tsconfig.build.json'], [fileURLToPath(new URL('./bundle.mjs', import.meta.url))]]) {
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
