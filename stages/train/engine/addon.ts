/**
 * Loads the OpenBLAS addon (native/blas/build/Release/blas.node, built by
 * `npm run build:addon`). Loading never throws: a missing or broken build yields
 * `{ addon: null, error }` so the engine can fall back to TypeScript.
 * `HOTCOLD_BLAS_ADDON=/path/blas.node` overrides the location.
 *
 * Kernel choice: Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise AMD Zen 4/5 and
 * falls back to its AVX2 Haswell kernels. When the CPU has AVX-512 (F, BW, DQ, VL) and the user
 * has not set OPENBLAS_CORETYPE, we set it to SkylakeX before the library loads: measured on
 * this machine (Zen 5), the DLRM GEMMs run at ~180 GFLOP/s instead of ~100 on one core.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { packagePath } from '../../../pipeline/package-root.js';
import path from 'node:path';

/** The functions blas.cc exports. */
export interface BlasAddon {
  sgemm(
    transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
    A: Float32Array, lda: number, B: Float32Array, ldb: number, beta: number,
    C: Float32Array, ldc: number,
  ): void;
  setThreads(n: number): void;
  /** madvise(MADV_HUGEPAGE) over the array's page-aligned interior; true when applied */
  adviseHugePages(a: Float32Array): boolean;
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH Haswell MAX_THREADS=64" */
  config: string;
  /** the DLRM kernels of kernels.cc (absent in builds older than them; see engine/kernels.ts) */
  kernels?: unknown;
}

let cached: { addon: BlasAddon | null; error: string } | null = null;

/** Where the addon is looked for. */
export function blasAddonPath(): string {
  const override = process.env.HOTCOLD_BLAS_ADDON;
  if (override) return path.resolve(override);
  return packagePath('native', 'blas', 'build', 'Release', 'blas.node');
}

function isAddon(x: unknown): x is BlasAddon {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as Record<string, unknown>;
  return typeof o.sgemm === 'function' && typeof o.setThreads === 'function' && typeof o.adviseHugePages === 'function';
}

/** The OpenBLAS core type to force, or null to leave OpenBLAS's own detection alone. */
export function preferredCoreType(cpuinfo: string): string | null {
  const line = cpuinfo.split('\n').find((l) => l.startsWith('flags'));
  if (!line) return null;
  const flags = new Set(line.slice(line.indexOf(':') + 1).trim().split(/\s+/));
  return ['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f)) ? 'SkylakeX' : null;
}

function chooseCoreType(): void {
  if (process.env.OPENBLAS_CORETYPE || process.platform !== 'linux' || process.arch !== 'x64') return;
  try {
    const core = preferredCoreType(readFileSync('/proc/cpuinfo', 'utf8'));
    if (core) process.env.OPENBLAS_CORETYPE = core;
  } catch {
    // no /proc/cpuinfo: keep OpenBLAS's detection
  }
}

/** Load once and cache the outcome. */
export function loadBlasAddon(): { addon: BlasAddon | null; error: string } {
  if (cached) return cached;
  const file = blasAddonPath();
  try {
    chooseCoreType();
    const require = createRequire(import.meta.url);
    const mod: unknown = require(file);
    cached = isAddon(mod) ? { addon: mod, error: '' } : { addon: null, error: 'module does not export sgemm' };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err);
    cached = { addon: null, error: msg };
  }
  return cached;
}

/**
 * Ask for transparent huge pages under a big, not yet written array (embedding tables): random
 * row reads then miss the TLB less (gather ≈ 20 % faster on 3M-row tables here). A no-op
 * returning false when the addon is not built or the OS declines.
 */
export function adviseHugePages(a: Float32Array): boolean {
  const { addon } = loadBlasAddon();
  return addon ? addon.adviseHugePages(a) : false;
}
