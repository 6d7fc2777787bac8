import { writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import { fileEntry, readManifest, verifyFiles, writeManifest, type ManifestBase } from '../../pipeline/manifest.js';
import { openStagedOutput } from '../../pipeline/outdir.js';
import { useTempDirs } from '../fixtures/temp.js';

const tmp = useTempDirs('hotcold-manifest-');

function manifest(fingerprint: string, files: ManifestBase['files'] = []): ManifestBase {
  return { magic: 'hotcold.profile', formatVersion: 1, createdAt: 'now', fingerprint, elapsedSec: 0, files };
}

describe('stage output protocol', () => {
  it('a directory without a committed manifest is reported as unfinished', () => {
    const d = tmp();
    writeFileSync(join(d, 'counts.bin'), 'x');
    expect(() => readManifest(d, 'profile')).toThrow(/no committed profile manifest/);
  });

  it('reuses output with the same fingerprint and replaces it otherwise, at commit', async () => {
    const d = join(tmp(), 'out');
    const first = openStagedOutput({ dir: d, kind: 'profile' }, 'fp1');
    expect(first.reused).toBeUndefined();
    writeFileSync(join(first.dir, 'a.bin'), 'hello');
    first.commit(manifest('fp1', [await fileEntry(first.dir, 'a.bin')]));
    expect(readdirSync(d).sort()).toEqual(['a.bin', 'manifest.json']);
    expect(openStagedOutput({ dir: d, kind: 'profile' }, 'fp1').reused?.fingerprint).toBe('fp1');
    const other = openStagedOutput({ dir: d, kind: 'profile' }, 'fp2');
    expect(other.reused).toBeUndefined();
    // until the new output commits, the old one is intact
    expect(readManifest(d, 'profile').fingerprint).toBe('fp1');
    other.commit(manifest('fp2'));
    expect(readdirSync(d)).toEqual(['manifest.json']);
    expect(readManifest(d, 'profile').fingerprint).toBe('fp2');
  });

  it('rejects a manifest of another kind with a hint', () => {
    const d = tmp();
    writeManifest(d, manifest('x'));
    try {
      readManifest(d, 'preprocess');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PipelineError);
      expect((e as PipelineError).code).toBe('bad_manifest');
      expect((e as PipelineError).hint).toMatch(/hotcold preprocess/);
    }
  });

  it('detects a corrupted file by checksum, naming it', async () => {
    const d = tmp();
    writeFileSync(join(d, 'a.bin'), 'hello');
    const e = await fileEntry(d, 'a.bin');
    writeFileSync(join(d, 'a.bin'), 'jello');
    await expect(verifyFiles(d, [e])).rejects.toThrow(/checksum mismatch: .*a\.bin/);
    writeFileSync(join(d, 'a.bin'), 'hell');
    await expect(verifyFiles(d, [e])).rejects.toThrow(/size mismatch/);
  });

  it('writes the manifest atomically (no temp file left behind)', () => {
    const d = tmp();
    writeManifest(d, manifest('x'));
    expect(existsSync(join(d, 'manifest.json'))).toBe(true);
    expect(readdirSync(d)).toEqual(['manifest.json']);
  });
});
