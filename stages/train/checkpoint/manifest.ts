/**
 * Checkpoint manifests: build, commit, read and check them; list the committed
 * versions of a directory; resolve a version's chain (base, increments...).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tmpName } from '../../../pipeline/atomic.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { canonicalJson, sha256 } from '../../../pipeline/hash.js';
import {
  CHECKPOINT_FORMAT_VERSION,
  CHECKPOINT_MAGIC,
  CHECKSUM_ALGO,
  type CheckpointManifest,
  MANIFEST_RE,
  manifestName,
  versionName,
} from './format.js';

/** sha256 of the manifest's canonical JSON without its `selfSha256` field. */
export function manifestSelfHash(m: Omit<CheckpointManifest, 'selfSha256'> & { selfSha256?: string }): string {
  const { selfSha256: _ignored, ...rest } = m;
  return sha256(canonicalJson(rest));
}

/** Write the manifest under its temporary name and fsync it; returns the temporary path. */
export function writeManifestTmp(dir: string, m: CheckpointManifest, name = manifestName(m.version)): string {
  const final = join(dir, name);
  const tmp = tmpName(final);
  const fd = openSync(tmp, 'w');
  try {
    const buf = Buffer.from(JSON.stringify(m, null, 1) + '\n');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

/** The commit point: rename the temporary manifest to `vNNNNNN.json`. */
export function commitManifest(dir: string, tmp: string, version: number, name = manifestName(version)): void {
  renameSync(tmp, join(dir, name));
}

/** Versions with a committed manifest, ascending. */
export function committedVersions(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    const m = MANIFEST_RE.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/**
 * Read and check the committed manifest of `version`.
 * @throws PipelineError `bad_manifest` when missing, of another kind or format version
 *   (see {@link isFormatError}), or a file entry has no CRC-32; `checksum` when unparsable
 *   or its self-hash does not match (edited or damaged).
 */
export function readCheckpointManifest(dir: string, version: number, name = manifestName(version)): CheckpointManifest {
  const p = join(dir, name);
  if (!existsSync(p)) {
    throw new PipelineError('bad_manifest', `checkpoint version ${versionName(version)} has no committed manifest: ${p}`, { file: p });
  }
  let m: Partial<CheckpointManifest>;
  try {
    m = JSON.parse(readFileSync(p, 'utf8')) as Partial<CheckpointManifest>;
  } catch (e) {
    throw new PipelineError('checksum', `checkpoint manifest is not valid JSON (${(e as Error).message}): ${p}`, { file: p });
  }
  if (m.magic !== CHECKPOINT_MAGIC) {
    throw new PipelineError('bad_manifest', `expected a checkpoint manifest (magic '${CHECKPOINT_MAGIC}'), found '${String(m.magic)}': ${p}`, {
      file: p,
    });
  }
  if (m.formatVersion !== CHECKPOINT_FORMAT_VERSION) throw formatError(dir, p, m.formatVersion);
  const full = m as CheckpointManifest;
  const h = manifestSelfHash(full);
  if (h !== full.selfSha256 || full.version !== version) {
    throw new PipelineError('checksum', `checksum mismatch in checkpoint manifest: ${p}`, {
      file: p,
      expected: full.selfSha256,
      actual: h,
    });
  }
  checkFileEntries(p, full);
  return full;
}

/** True for the error {@link readCheckpointManifest} throws on a manifest of another format version. */
export function isFormatError(e: unknown): e is PipelineError {
  return e instanceof PipelineError && e.code === 'bad_manifest' && e.field === 'formatVersion';
}

function formatError(dir: string, p: string, found: unknown): PipelineError {
  const older = typeof found === 'number' && found < CHECKPOINT_FORMAT_VERSION;
  const what = older
    ? `was written by an older hotcold (checkpoint format ${found}${found === 1 ? ', sha256 file checksums' : ''})`
    : `has checkpoint format ${String(found)}`;
  return new PipelineError(
    'bad_manifest',
    `checkpoint manifest ${p} ${what}; this build reads format ${CHECKPOINT_FORMAT_VERSION} (crc32 file checksums) only`,
    {
      file: p,
      field: 'formatVersion',
      expected: String(CHECKPOINT_FORMAT_VERSION),
      actual: String(found),
      hint: older
        ? `finish that run with the hotcold build that wrote it, or start over without --resume after deleting ${dir} (or pass another --checkpoint-dir)`
        : `use the hotcold build that wrote ${dir}, or start over without --resume with another --checkpoint-dir`,
    },
  );
}

/** Every file entry must carry a CRC-32 checksum (a manifest edited by hand or by another tool is refused). */
function checkFileEntries(p: string, m: CheckpointManifest): void {
  const ok =
    Array.isArray(m.files) &&
    m.files.every(
      (f) =>
        typeof f.path === 'string' &&
        typeof f.bytes === 'number' &&
        typeof f.checksum === 'object' &&
        f.checksum !== null &&
        f.checksum.algo === CHECKSUM_ALGO &&
        /^[0-9a-f]{8}$/.test(f.checksum.value),
    );
  if (!ok) {
    throw new PipelineError('bad_manifest', `checkpoint manifest lists a file without a ${CHECKSUM_ALGO} checksum: ${p}`, {
      file: p,
      hint: 'the manifest was edited or written by another tool; `hotcold checkpoint verify <dir>` lists every bad version',
    });
  }
}

/**
 * The chain of `version`: manifests from its full base to itself, in version order.
 * @throws PipelineError when a manifest of the chain is missing or bad.
 */
export function resolveChain(dir: string, version: number, cache?: Map<number, CheckpointManifest>): CheckpointManifest[] {
  const chain: CheckpointManifest[] = [];
  let v: number | null = version;
  while (v !== null) {
    let m: CheckpointManifest | undefined = cache?.get(v);
    if (m === undefined) {
      m = readCheckpointManifest(dir, v);
      cache?.set(v, m);
    }
    chain.push(m);
    if (m.kind === 'full') break;
    if (m.parent === null || m.parent >= v) {
      throw new PipelineError('bad_manifest', `checkpoint ${versionName(v)} is incremental but has no valid parent`, {
        file: join(dir, manifestName(v)),
      });
    }
    v = m.parent;
  }
  return chain.reverse();
}
