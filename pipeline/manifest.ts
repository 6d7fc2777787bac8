/**
 * Manifests: the JSON file that commits a stage's output. A directory whose
 * `manifest.json` is absent holds no finished output, whatever else is in it.
 *
 * Every manifest starts with `magic` (which artifact), `formatVersion`, the
 * fingerprint of what produced it, and a checksum per data file. Readers check
 * magic and version first and say which command regenerates the artifact.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomicSync, writeFileSynced } from './atomic.js';
import { badManifest, PipelineError } from './errors.js';
import { sha256, sha256File } from './hash.js';
import { XXH64, xxh64File } from './xxh64.js';

export const MANIFEST_FILE = 'manifest.json';

/**
 * One data file of an artifact, relative to the artifact directory, with its checksum:
 * `sha256` (hex; every artifact but preprocess's, and preprocess outputs written before
 * xxh64) or `hash` (`<algorithm>:<hex>`, today only `xxh64:` — preprocess's shards and
 * vocabulary files, where sha256 was a measurable share of the run; pipeline/xxh64.ts).
 * Exactly one of the two is set.
 */
export interface FileEntry {
  path: string;
  bytes: number;
  sha256?: string;
  hash?: string;
}

export interface ManifestBase {
  magic: string;
  formatVersion: number;
  /** ISO time the manifest was committed. */
  createdAt: string;
  /** Hash of everything that determines the output (inputs + options); equal → reusable. */
  fingerprint: string;
  elapsedSec: number;
  files: FileEntry[];
}

/** Artifact kinds and the command that regenerates each, for hints. */
export const ARTIFACTS = {
  preprocess: { magic: 'hotcold.preprocess', version: 1, regenerate: 'hotcold preprocess' },
  profile: { magic: 'hotcold.profile', version: 1, regenerate: 'hotcold profile' },
  segregate: { magic: 'hotcold.segregate', version: 1, regenerate: 'hotcold segregate' },
  train: { magic: 'hotcold.train', version: 1, regenerate: 'hotcold train' },
  checkpoint: { magic: 'hotcold.checkpoint', version: 2, regenerate: 'hotcold train --checkpoint-dir' },
  sweep: { magic: 'hotcold.sweep', version: 1, regenerate: 'hotcold sweep' },
  generate: { magic: 'hotcold.generate', version: 1, regenerate: 'hotcold generate' },
  export: { magic: 'hotcold.export', version: 1, regenerate: 'hotcold export' },
  exportShards: { magic: 'hotcold.export-shards', version: 1, regenerate: 'hotcold export-shards' },
} as const;
export type ArtifactKind = keyof typeof ARTIFACTS;

export function manifestPath(dir: string): string {
  return join(dir, MANIFEST_FILE);
}

/** True when `dir` holds a committed manifest. */
export function hasManifest(dir: string): boolean {
  return existsSync(manifestPath(dir));
}

/**
 * Read and check a committed manifest.
 * @throws PipelineError `bad_manifest` when missing, unparsable, of another kind or version.
 */
export function readManifest<M extends ManifestBase>(dir: string, kind: ArtifactKind): M {
  const a = ARTIFACTS[kind];
  const p = manifestPath(dir);
  if (!existsSync(dir)) {
    throw new PipelineError('not_found', `${kind} output directory not found: ${dir}`, {
      file: dir,
      hint: `run \`${a.regenerate}\` first`,
    });
  }
  if (!existsSync(p)) {
    throw badManifest(
      dir,
      `no committed ${kind} manifest in ${dir} (the run that wrote it did not finish)`,
      `run \`${a.regenerate}\` again with --out ${dir}`,
    );
  }
  let m: Partial<ManifestBase>;
  try {
    m = JSON.parse(readFileSync(p, 'utf8')) as Partial<ManifestBase>;
  } catch (e) {
    throw badManifest(p, `manifest is not valid JSON: ${(e as Error).message}`, `delete ${dir} and run \`${a.regenerate}\` again`);
  }
  if (m.magic !== a.magic) {
    throw badManifest(p, `expected a ${kind} manifest (magic '${a.magic}'), found '${String(m.magic)}'`, `is ${dir} the output of \`${a.regenerate}\`?`);
  }
  if (m.formatVersion !== a.version) {
    throw badManifest(p, `${kind} format version ${String(m.formatVersion)} is not supported (this build reads ${a.version})`, `run \`${a.regenerate}\` again`);
  }
  return m as M;
}

/** Commit a manifest: the last write of a stage. Atomic (temp name, fsync, rename, fsync dir). */
export function writeManifest(dir: string, manifest: ManifestBase): void {
  writeFileAtomicSync(manifestPath(dir), JSON.stringify(manifest, null, 2) + '\n');
}

/**
 * Write a data file inside `dir` (fsynced; committed later by the manifest) and
 * return its entry, checksummed from memory rather than re-read.
 */
export function writeDataFile(dir: string, rel: string, data: Uint8Array): FileEntry {
  writeFileSynced(join(dir, rel), data);
  return { path: rel, bytes: data.byteLength, sha256: sha256(data) };
}

/** Build a file entry by hashing a file inside `dir`. */
export async function fileEntry(dir: string, rel: string): Promise<FileEntry> {
  const abs = join(dir, rel);
  return { path: rel, bytes: statSync(abs).size, sha256: await sha256File(abs) };
}

/**
 * Verify every file of a manifest exists with the recorded size and checksum.
 * @throws PipelineError `checksum` naming the first bad file.
 */
export async function verifyFiles(dir: string, files: FileEntry[], checksums = true): Promise<void> {
  for (const f of files) {
    const abs = join(dir, f.path);
    if (!existsSync(abs)) throw new PipelineError('checksum', `file listed in the manifest is missing: ${abs}`, { file: abs });
    const size = statSync(abs).size;
    if (size !== f.bytes) {
      throw new PipelineError('checksum', `size mismatch: ${abs} has ${size} bytes, manifest says ${f.bytes}`, { file: abs });
    }
    if (checksums) {
      const want = f.hash ?? f.sha256;
      const h = f.hash !== undefined ? await hashFile(abs, f.hash) : await sha256File(abs);
      if (h !== want) throw new PipelineError('checksum', `checksum mismatch: ${abs}`, { file: abs, expected: want, actual: h });
    }
  }
}

/** A file's checksum in the form of `hash` (`<algorithm>:<hex>`), by the algorithm `hash` names. */
async function hashFile(abs: string, hash: string): Promise<string> {
  const algo = hash.slice(0, hash.indexOf(':'));
  if (algo === XXH64) return xxh64File(abs);
  throw new PipelineError('bad_manifest', `unknown checksum algorithm '${algo}' for ${abs}`, { file: abs, hint: 'a newer hotcold wrote this manifest; upgrade, or regenerate the artifact' });
}

export function nowIso(): string {
  return new Date().toISOString();
}

/**
 * The common head of an artifact's manifest: magic and format version from
 * {@link ARTIFACTS}, commit time, fingerprint, elapsed time since `t0`
 * (a `performance.now()` reading) and the data files.
 */
export function manifestHead<K extends ArtifactKind>(
  kind: K,
  fingerprint: string,
  t0: number,
  files: FileEntry[],
): ManifestBase & { magic: (typeof ARTIFACTS)[K]['magic'] } {
  const a = ARTIFACTS[kind];
  return { magic: a.magic, formatVersion: a.version, createdAt: nowIso(), fingerprint, elapsedSec: (performance.now() - t0) / 1000, files };
}
