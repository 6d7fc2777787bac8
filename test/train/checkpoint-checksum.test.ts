import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PipelineError } from '../../pipeline/errors.js';
import { Rng } from '../../pipeline/rng.js';
import { CheckpointStore, type CheckpointManifest, type TrainState, compactCheckpoints, verifyCheckpoints } from '../../stages/train/checkpoint/index.js';
import { manifestSelfHash } from '../../stages/train/checkpoint/manifest.js';
import { diffState, emptyLike, makeState, saveChain, tempDirs } from './checkpoint-fixture.js';

const tmp = tempDirs();

const name = (v: number, ext: string): string => `v${String(v).padStart(6, '0')}.${ext}`;

/** Versions 1..n with the given fullEvery; returns the live state and a snapshot after each version. */
const writeChain = (dir: string, n: number, fullEvery: number, flat = true): { s: TrainState; snaps: TrainState[] } =>
  saveChain(dir, n, fullEvery, makeState(31, [40, 300, 7], 4), new Rng(9), flat);

function manifest(dir: string, v: number): CheckpointManifest {
  return JSON.parse(readFileSync(join(dir, name(v, 'json')), 'utf8')) as CheckpointManifest;
}

function restore(dir: string, like: TrainState) {
  const into = emptyLike(like);
  const logs: string[] = [];
  const r = CheckpointStore.open({ dir, threshold: 0, fullEvery: 8, log: (m) => logs.push(m) }).restore(into);
  return { into, r, logs };
}

describe('data file checksums (CRC-32)', () => {
  it('each manifest records the CRC-32 of its data file and format 2', () => {
    const dir = tmp();
    writeChain(dir, 3, 8);
    for (const v of [1, 2, 3]) {
      const m = manifest(dir, v);
      expect(m.formatVersion).toBe(2);
      expect(m.files).toHaveLength(1);
      const f = m.files[0]!;
      const bytes = readFileSync(join(dir, f.path));
      expect(f.bytes).toBe(bytes.length);
      expect(f.checksum.algo).toBe('crc32');
      expect(f.checksum.value).toBe(crc32(bytes).toString(16).padStart(8, '0'));
    }
  });

  for (const [what, v] of [['full base', 1], ['increment', 3]] as const) {
    it(`a single flipped byte anywhere in the ${what} is detected, naming the file`, () => {
      const dir = tmp();
      // 1F 2I 3I: a damaged base leaves no valid version (a checksum error); a damaged v3 falls back to v2
      // (without a flat increment, which would hold v3's rows and make v3.bin unnecessary: flat.test.ts)
      const { s, snaps } = writeChain(dir, 3, 8, false);
      const f = join(dir, name(v, 'bin'));
      const good = readFileSync(f);
      const rng = new Rng(17);
      // every section: ~120 positions spread over the file, plus its first and last byte
      const positions = new Set<number>([0, good.length - 1]);
      const step = Math.max(1, Math.floor(good.length / 120));
      for (let p = rng.int(step); p < good.length; p += step) positions.add(p);
      for (const p of positions) {
        const bad = Buffer.from(good);
        bad[p]! ^= 1 << rng.int(8);
        writeFileSync(f, bad);
        if (v === 1) {
          let err: unknown;
          try {
            restore(dir, s);
          } catch (e) {
            err = e;
          }
          expect(err, `byte ${p}`).toBeInstanceOf(PipelineError);
          expect((err as PipelineError).code).toBe('checksum');
          expect((err as PipelineError).message).toContain(f);
        } else {
          const back = restore(dir, s);
          expect(back.r!.version, `byte ${p}`).toBe(2);
          expect(diffState(snaps[1]!, back.into, back.r!.blobs)).toBeNull();
          expect(back.logs.join('\n')).toContain(f);
        }
      }
      writeFileSync(f, good);
      expect(restore(dir, s).r!.version).toBe(3);
    });
  }

  it('verify names a data file whose CRC-32 does not match', async () => {
    const dir = tmp();
    writeChain(dir, 2, 8);
    const f = join(dir, name(2, 'bin'));
    const buf = readFileSync(f);
    buf[buf.length - 5]! ^= 0x80;
    writeFileSync(f, buf);
    const rep = await verifyCheckpoints(dir);
    expect(rep.ok).toBe(false);
    const byV = new Map(rep.versions.map((x) => [x.version, x]));
    expect(byV.get(1)!.problems).toEqual([]);
    expect(byV.get(2)!.problems.join()).toMatch(/checksum mismatch.*crc32/);
    expect(byV.get(2)!.problems.join()).toContain(f);
  });
});

/** Rewrite version v's manifest as format 1 wrote it (sha256 file entries), self-hash recomputed. */
function toFormat1(dir: string, v: number): string {
  const p = join(dir, name(v, 'json'));
  const m = manifest(dir, v) as unknown as Record<string, unknown> & { files: { path: string; bytes: number }[] };
  const old = { ...m, formatVersion: 1, files: m.files.map((f) => ({ path: f.path, bytes: f.bytes, sha256: '0'.repeat(64) })) };
  delete (old as { selfSha256?: string }).selfSha256;
  const self = manifestSelfHash(old as unknown as CheckpointManifest);
  writeFileSync(p, JSON.stringify({ ...old, selfSha256: self }, null, 1) + '\n');
  return p;
}

describe('checkpoints of the previous format (sha256)', () => {
  it('resume fails with an error naming the manifest and the fix, instead of falling back or starting over', async () => {
    const dir = tmp();
    const { s } = writeChain(dir, 3, 8);
    for (const v of [1, 2, 3]) toFormat1(dir, v);
    let err: unknown;
    try {
      restore(dir, s);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PipelineError);
    const e = err as PipelineError;
    expect(e.code).toBe('bad_manifest');
    expect(e.message).toContain(join(dir, name(3, 'json')));
    expect(e.message).toMatch(/older hotcold.*format 1/);
    expect(e.hint).toMatch(/without --resume/);
    expect(e.hint).toContain(dir);
    const rep = await verifyCheckpoints(dir);
    expect(rep.ok).toBe(false);
    expect(rep.versions.every((x) => x.problems.join().includes('format 1'))).toBe(true);
    expect(() => compactCheckpoints(dir)).toThrow(/older hotcold/);
  });

  it('a manifest whose file entry has no CRC-32 is refused, not trusted', () => {
    const dir = tmp();
    const { s, snaps } = writeChain(dir, 2, 8);
    const p = join(dir, name(2, 'json'));
    const m = manifest(dir, 2) as unknown as Record<string, unknown>;
    const edited = { ...m, files: [{ path: name(2, 'bin'), bytes: (m.files as { bytes: number }[])[0]!.bytes }] };
    delete (edited as { selfSha256?: string }).selfSha256;
    writeFileSync(p, JSON.stringify({ ...edited, selfSha256: manifestSelfHash(edited as unknown as CheckpointManifest) }));
    const back = restore(dir, s);
    expect(back.r!.version).toBe(1);
    expect(diffState(snaps[0]!, back.into, back.r!.blobs)).toBeNull();
    expect(back.logs.join('\n')).toMatch(/without a crc32 checksum/);
  });
});
