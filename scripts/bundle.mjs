// Bundles the compiled CLI and its worker entries into dist/bundle/ (esbuild, ESM, code
// splitting so each command's lazy imports stay lazy). Node 20's ESM loader pays per module:
// apache-arrow alone is ~200 files, ≈ 0.2 CPU-s to load unbundled vs ≈ 0.05 bundled. Workers
// are found next to the chunk that starts them (new URL('./writer-worker.js', import.meta.url)),
// so every entry keeps its own file name in the one output folder. Native and heavy optional
// packages stay external (resvg loads a platform .node; vega is drawn only by plots).
// A failed bundle is not fatal: bin/hotcold.js then runs the plain tsc output in dist/bin/.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bundle');
rmSync(out, { recursive: true, force: true });
try {
  await build({
    absWorkingDir: root,
    entryPoints: {
      hotcold: 'dist/bin/hotcold.js',
      'writer-worker': 'dist/stages/train/checkpoint/writer-worker.js',
      'parse-worker': 'dist/datasets/criteo/parse-worker.js',
      'score-worker': 'dist/stages/train/predict/score-worker.js',
      'parallel-worker': 'dist/stages/train/parallel/worker.js',
      'data-worker': 'dist/stages/train/data/data-worker.js',
    },
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['@resvg/resvg-js', 'vega', 'vega-lite'],
    // CommonJS dependencies bundled into ESM still call require() for node built-ins
    banner: { js: "import { createRequire as __hcRequire } from 'node:module'; const require = __hcRequire(import.meta.url);" },
    logLevel: 'warning',
  });
} catch (e) {
  rmSync(out, { recursive: true, force: true });
  console.error(`hotcold: bundling skipped (${e instanceof Error ? e.message.split('\n')[0] : e}); the unbundled dist/ runs`);
}
