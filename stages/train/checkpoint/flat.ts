/**
 * Flat (merged) increments — IncrCP's "superseded rows leave the recovery path".
 *
 * A chain base, i1 … in restores by reading the base and every increment, and a row updated
 * in k increments is read (and copied) k times. After increment n commits, the writer thread
 * folds the chain's increments into one *flat* increment of version n: every row stored by
 * i1 … in, once, with its newest value, ids ascending, plus n's dense arrays and blobs. It is
 * an ordinary increment file of version n against the base (same sections, format.ts), so
 * recovery reads base + one increment — and streams that pair in one pass (load.ts
 * `loadPair`: each base chunk is patched with the flat rows that fall in it while it is in
 * cache, no scattered row copies).
 *
 * Built incrementally: flat(n) = merge(flat(n−1), in) — one merge walk per table over two
 * ascending id lists, the newer value winning — or, when flat(n−1) is missing, from the newest
 * flat of the chain (or i1) and the increments after it. Crash safety is the version commit
 * protocol (commit.ts) with its own names: `vNNNNNN.flat.bin` → fsync → `.vNNNNNN.flat.json.tmp-*`
 * → fsync → rename to `vNNNNNN.flat.json` (the commit point). A flat file is optional: version n
 * is defined by its chain, so a crash at any moment of a merge leaves the chain (and the older
 * flat, deleted only after the new one committed) loadable. A flat manifest names the versions
 * it merged with their data files' CRC-32, and is used only for exactly that chain.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fsyncDir } from '../../../pipeline/atomic.js';
import { PipelineError } from '../../../pipeline/errors.js';
import { type ManifestHead, commitVersion, nowMs } from './commit.js';
import {
  type CheckpointManifest, FILE_FORMAT_VERSION, FILE_MAGIC, FLAT_MANIFEST_RE, HEADER_BYTES, SECTION, type TableEntry, flatDataName, flatManifestName, versionName,
} from './format.js';
import { checksumError, headerAt, readVerified } from './io.js';
import { readCheckpointManifest, resolveChain } from './manifest.js';
import type { Layout } from './sections.js';
import type { CommitStep } from './types.js';

/** What writing a flat increment did. */
export interface FlatResult {
  version: number;
  /** data bytes of the flat file */
  bytes: number;
  /** rows it holds, all tables */
  rows: number;
  /** increments it folds (base+1 … version) */
  merged: number;
  /** wall seconds: reading the sources, merging, the commit protocol */
  sec: number;
}

/** An increment file in memory (verified) with its layout. */
interface Img {
  path: string;
  file: Uint8Array;
  layout: Layout;
}

/** One table section of an increment, as views into its file. */
interface Sec {
  ids: Int32Array;
  rows: Float32Array;
  acc: Float32Array | null;
  n: number;
}

const align8 = (x: number): number => (x + 7) & ~7;

/** Versions with a committed flat manifest, ascending. */
export function flatVersions(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const out: number[] = [];
  for (const name of readdirSync(dir)) {
    const m = FLAT_MANIFEST_RE.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/**
 * The flat manifest of `chain[c]` if it exists, is valid and merges exactly `chain[1..c]`
 * (same versions, same data-file CRC-32s); null when absent.
 * @throws PipelineError `checksum` / `bad_manifest` when present but damaged or of another chain
 */
export function flatFor(dir: string, chain: CheckpointManifest[], c: number): CheckpointManifest | null {
  const v = chain[c]!.version;
  if (!existsSync(join(dir, flatManifestName(v)))) return null;
  const m = readCheckpointManifest(dir, v, flatManifestName(v));
  const want = chain.slice(1, c + 1).map((x) => ({ version: x.version, crc32: x.files[0]!.checksum.value }));
  const got = m.merged ?? [];
  const same = m.kind === 'incr' && m.base === chain[0]!.version && got.length === want.length && got.every((g, i) => g.version === want[i]!.version && g.crc32 === want[i]!.crc32);
  if (!same) {
    throw new PipelineError('bad_manifest', `flat increment ${flatManifestName(v)} was merged from another chain than ${versionName(chain[0]!.version)}..${versionName(v)}`, {
      file: join(dir, flatManifestName(v)),
    });
  }
  return m;
}

/**
 * The fastest exact recovery path of `chain` (base..v): base + the newest valid flat
 * increment of the chain + the increments after it; the chain itself when it has no flat.
 * A damaged flat is logged and skipped (the chain, or an older flat, is used instead).
 */
export function fastestPath(dir: string, chain: CheckpointManifest[], log: (msg: string) => void): CheckpointManifest[] {
  for (let c = chain.length - 1; c >= 2; c--) {
    try {
      const f = flatFor(dir, chain, c);
      if (f) return [chain[0]!, f, ...chain.slice(c + 1)];
    } catch (e) {
      if (!(e instanceof PipelineError)) throw e;
      log(`checkpoint: flat increment of ${versionName(chain[c]!.version)} is not usable (${e.message}); reading the chain`);
    }
  }
  return chain;
}

function sectionOf(img: Img, e: TableEntry, dim: number, accum: boolean): Sec {
  const { path, file } = img;
  const n = headerAt(path, file, e.offset, SECTION.incr);
  if (n !== e.stored) throw checksumError(path, `incremental section of table ${e.name} holds ${n} rows, manifest says ${e.stored}`);
  const idsAt = e.offset + HEADER_BYTES;
  const rowsAt = align8(idsAt + 4 * n);
  const end = rowsAt + 4 * n * dim + (accum ? 4 * n : 0);
  if (end > file.length) throw checksumError(path, `checkpoint file layout does not match its manifest (table ${e.name} ends at byte ${end} of ${file.length})`);
  const at = file.byteOffset;
  return {
    ids: new Int32Array(file.buffer, at + idsAt, n),
    rows: new Float32Array(file.buffer, at + rowsAt, n * dim),
    acc: accum ? new Float32Array(file.buffer, at + rowsAt + 4 * n * dim, n) : null,
    n,
  };
}

/** Rows in the union of two ascending id lists; checks both are strictly ascending and in [0, rows). */
function unionCount(a: Sec, b: Sec, rows: number, pa: string, pb: string, name: string): number {
  const check = (s: Sec, path: string): void => {
    let prev = -1;
    for (let k = 0; k < s.n; k++) {
      const id = s.ids[k]!;
      if (id <= prev || id >= rows) throw checksumError(path, `table ${name}: row ids not ascending in [0, ${rows}) (${id} after ${prev})`);
      prev = id;
    }
  };
  check(a, pa);
  check(b, pb);
  let i = 0;
  let j = 0;
  let n = 0;
  while (i < a.n && j < b.n) {
    const x = a.ids[i]!;
    const y = b.ids[j]!;
    if (x <= y) i++;
    if (y <= x) j++;
    n++;
  }
  return n + (a.n - i) + (b.n - j);
}

/**
 * Merge walk: ids of the union (ascending) into `ids`, each row's weights (and accumulator)
 * from `b` (newer) when it holds the row, else from `a`.
 * @param ids n, rows n×dim, acc n (or null): the output section's arrays
 */
function mergeRows(ids: Int32Array, rows: Float32Array, acc: Float32Array | null, a: Sec, b: Sec, dim: number): void {
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.n || j < b.n) {
    const x = i < a.n ? a.ids[i]! : 0x7fffffff;
    const y = j < b.n ? b.ids[j]! : 0x7fffffff;
    const fromB = y <= x;
    const src = fromB ? b : a;
    const s = fromB ? j : i;
    ids[k] = fromB ? y : x;
    const o = k * dim;
    const so = s * dim;
    for (let q = 0; q < dim; q++) rows[o + q] = src.rows[so + q]!;
    if (acc !== null) acc[k] = src.acc![s]!;
    if (x <= y) i++;
    if (y <= x) j++;
    k++;
  }
}

/** Merge increment images `a` (older) and `b` (newer) of the same chain into one (dense arrays and blobs from `b`). */
function merge(a: Img, b: Img): Img {
  const ta = a.layout.tables;
  const tb = b.layout.tables;
  if (ta.length !== tb.length || ta.some((e, i) => e.name !== tb[i]!.name || e.rows !== tb[i]!.rows || e.dim !== tb[i]!.dim || e.accum !== tb[i]!.accum)) {
    throw new PipelineError('bad_manifest', `cannot merge ${a.path} and ${b.path}: their tables differ`, { file: b.path });
  }
  const prefix = tb.length > 0 ? tb[0]!.offset : b.file.length;
  const secs = tb.map((e, i) => {
    const sa = sectionOf(a, ta[i]!, e.dim, e.accum);
    const sb = sectionOf(b, e, e.dim, e.accum);
    return { e, sa, sb, n: unionCount(sa, sb, e.rows, a.path, b.path, e.name) };
  });
  let size = prefix;
  for (const { e, n } of secs) size = align8(align8(size) + HEADER_BYTES + 4 * n) + 4 * n * e.dim + (e.accum ? 4 * n : 0);
  const out = new Uint8Array(align8(size));
  out.set(b.file.subarray(0, prefix));
  const hdr = new DataView(out.buffer);
  const tables: TableEntry[] = [];
  let at = prefix;
  for (const { e, sa, sb, n } of secs) {
    at = align8(at);
    hdr.setUint32(at, FILE_MAGIC, true);
    hdr.setUint32(at + 4, FILE_FORMAT_VERSION, true);
    hdr.setUint32(at + 8, SECTION.incr, true);
    hdr.setUint32(at + 12, n, true);
    const idsAt = at + HEADER_BYTES;
    const rowsAt = align8(idsAt + 4 * n);
    mergeRows(
      new Int32Array(out.buffer, idsAt, n),
      new Float32Array(out.buffer, rowsAt, n * e.dim),
      e.accum ? new Float32Array(out.buffer, rowsAt + 4 * n * e.dim, n) : null,
      sa,
      sb,
      e.dim,
    );
    tables.push({ ...e, stored: n, offset: at });
    at = rowsAt + 4 * n * e.dim + (e.accum ? 4 * n : 0);
  }
  const { denseOffset, blobsOffset, dense, blobs } = b.layout;
  return { path: 'merged', file: out.subarray(0, at), layout: { denseOffset, blobsOffset, dense, blobs, tables } };
}

function load(dir: string, m: CheckpointManifest): Img {
  const f = m.files[0]!;
  const path = join(dir, f.path);
  const file = readVerified(path, f, new Uint8Array(0)).subarray(0, m.bytes);
  const { denseOffset, blobsOffset, dense, blobs, tables } = m;
  return { path, file, layout: { denseOffset, blobsOffset, dense, blobs, tables } };
}

/** Options of {@link writeFlat}. */
export interface FlatOptions {
  /** test hook: throw after this step of the flat file's commit, leaving files as a crash would */
  failAfter?: CommitStep;
}

/**
 * Fold the increments of `version`'s chain into its flat increment and commit it; then
 * delete the chain's older flat increments (manifests, an fsync of the directory, data files).
 * @returns null when the chain has fewer than two increments (base + one increment is already flat)
 * @throws PipelineError on a damaged source (the chain's own files are left untouched)
 */
export function writeFlat(dir: string, version: number, opts: FlatOptions = {}): FlatResult | null {
  const t0 = performance.now();
  const chain = resolveChain(dir, version);
  if (chain.length < 3) return null;
  // start from the newest flat of the chain before `version` (or its first increment)
  let c = 1;
  let acc: Img | null = null;
  for (let k = chain.length - 2; k >= 2 && acc === null; k--) {
    try {
      const f = flatFor(dir, chain, k);
      if (f) {
        acc = load(dir, f);
        c = k;
      }
    } catch (e) {
      if (!(e instanceof PipelineError)) throw e; // a damaged flat: fold from further back
    }
  }
  acc ??= load(dir, chain[1]!);
  for (let k = c + 1; k < chain.length; k++) acc = merge(acc, load(dir, chain[k]!));
  const last = chain[chain.length - 1]!;
  const head: ManifestHead = {
    version, kind: 'incr', base: chain[0]!.version, parent: chain[0]!.version, threshold: last.threshold,
    fingerprint: last.fingerprint, position: last.position, config: last.config,
  };
  const image = acc.file;
  const layout = acc.layout;
  const r = commitVersion(dir, head, (w) => {
    w.write(image);
    return layout;
  }, {
    failAfter: opts.failAfter, startedAt: nowMs(), progress: { committed: false },
    names: { data: flatDataName(version), manifest: flatManifestName(version) },
    extra: { merged: chain.slice(1).map((m) => ({ version: m.version, crc32: m.files[0]!.checksum.value })) },
  });
  removeFlats(dir, flatVersions(dir).filter((v) => v < version && v > chain[0]!.version));
  return { version, bytes: r.dataBytes, rows: layout.tables.reduce((s, e) => s + e.stored, 0), merged: chain.length - 1, sec: (performance.now() - t0) / 1000 };
}

/** Delete the flat increments of `versions`: manifests, an fsync of the directory, then data files. */
export function removeFlats(dir: string, versions: number[]): void {
  if (versions.length === 0) return;
  for (const v of versions) rmSync(join(dir, flatManifestName(v)), { force: true });
  fsyncDir(dir);
  for (const v of versions) rmSync(join(dir, flatDataName(v)), { force: true });
}
