/**
 * On-disk format of a checkpoint directory.
 *
 * ```
 * <dir>/
 *   v000001.bin    data of version 1 (full base): one file, so one fsync per checkpoint
 *   v000001.json   its committed manifest
 *   v000002.bin    data of version 2 (incr, base 1, parent 1)
 *   v000002.json
 * ```
 *
 * A version exists only when its `vNNNNNN.json` exists; a `vNNNNNN.bin` without
 * one, or a `.vNNNNNN.json.tmp-*` file, is a leftover of a write that did not
 * commit and is removed by {@link CheckpointStore.open}.
 *
 * The data file is a sequence of sections, each starting at an 8-byte-aligned
 * offset with a 16-byte little-endian header
 * `[magic 'HCKP' | u32 formatVersion | u32 section | u32 count]`, payload after it
 * (8-aligned, so Float64 blobs can be viewed in place). The manifest records each
 * section's offset and the CRC-32 of the whole file (format 2; format 1 used sha256):
 *
 * | section          | count     | payload                                                          |
 * |------------------|-----------|------------------------------------------------------------------|
 * | dense (1)        | arrays    | Float32 arrays back to back, at their manifest offsets            |
 * | blobs (2)        | arrays    | each array at its manifest offset (8-aligned)                     |
 * | full (3), per table | rows   | weights rows×dim f32, then accum rows f32 (if any)                |
 * | incr (4), per table | n      | ids n×i32 (ascending), pad to 8, weights n×dim f32, accum n f32   |
 */
import { ARTIFACTS, type ManifestBase } from '../../../pipeline/manifest.js';

export const FILE_MAGIC = 0x504b4348; // 'HCKP' read as little-endian u32
export const FILE_FORMAT_VERSION = 1;
export const HEADER_BYTES = 16;

export const SECTION = { dense: 1, blobs: 2, full: 3, incr: 4 } as const;
export type Section = (typeof SECTION)[keyof typeof SECTION];

export const CHECKPOINT_MAGIC = ARTIFACTS.checkpoint.magic;
/**
 * Manifest format. 2: data-file checksums are CRC-32 (`checksum: {algo: 'crc32', value}`),
 * computed while writing and reading; 1: sha256 (`sha256` field), no longer read.
 * The data file layout itself did not change (its headers still say {@link FILE_FORMAT_VERSION} 1).
 */
export const CHECKPOINT_FORMAT_VERSION = ARTIFACTS.checkpoint.version;

/** Checksum algorithm of checkpoint data files. */
export const CHECKSUM_ALGO = 'crc32';

/** Checksum of one data file: CRC-32 (zlib polynomial) as 8 lowercase hex digits. */
export interface FileChecksum {
  algo: typeof CHECKSUM_ALGO;
  value: string;
}

/** One data file of a version, relative to the checkpoint directory. */
export interface CheckpointFileEntry {
  path: string;
  bytes: number;
  checksum: FileChecksum;
}

/** Element types a blob may have. */
export type BlobDtype = 'f32' | 'i32' | 'u8' | 'f64';

/** Manifest entry of one dense array (offset in bytes from the start of dense.bin). */
export interface DenseEntry {
  name: string;
  length: number;
  offset: number;
}

export interface BlobEntry {
  name: string;
  dtype: BlobDtype;
  length: number;
  offset: number;
}

export interface TableEntry {
  name: string;
  rows: number;
  dim: number;
  accum: boolean;
  /** Rows stored in this version (= rows for a full version). */
  stored: number;
  /** Byte offset of the table's section header in the data file. */
  offset: number;
}

/** The committed manifest `vNNNNNN.json` of one version. */
export interface CheckpointManifest extends Omit<ManifestBase, 'files'> {
  /** the version's data file with its size and CRC-32 */
  files: CheckpointFileEntry[];
  version: number;
  kind: 'full' | 'incr';
  /** Full version this chain starts from (= version for a full one). */
  base: number;
  /** Version this one is a delta against (null for a full one). */
  parent: number | null;
  /** ‖Δ‖∞ threshold used to choose rows (0 = every touched row). */
  threshold: number;
  /** Bytes of the data file of this version. */
  bytes: number;
  /** Byte offsets of the dense and blob section headers. */
  denseOffset: number;
  blobsOffset: number;
  dense: DenseEntry[];
  blobs: BlobEntry[];
  tables: TableEntry[];
  position: Record<string, unknown>;
  config: unknown;
  /**
   * Flat increments only: the versions base+1..version merged into this file, each with the
   * CRC-32 of its data file (the flat file is used only for exactly this chain).
   */
  merged?: { version: number; crc32: string }[];
  /** sha256 of the canonical JSON of every other field: detects edits and bit flips in the manifest. */
  selfSha256: string;
}

/** `v000012` */
export function versionName(v: number): string {
  return `v${String(v).padStart(6, '0')}`;
}

export function manifestName(v: number): string {
  return `${versionName(v)}.json`;
}

/** Data file of a version: `v000012.bin`. */
export function dataName(v: number): string {
  return `${versionName(v)}.bin`;
}

export const MANIFEST_RE = /^v(\d{6,})\.json$/;
export const DATA_RE = /^v(\d{6,})\.bin$/;
export const TMP_RE = /^\.v\d{6,}(\.flat)?\.json\.tmp-/;

/**
 * The flat (merged) increment of version v (flat.ts): every row stored by the increments
 * base+1..v, newest value, one copy each, with v's dense arrays and blobs — an increment of v
 * against its base. Optional: a version is defined by its chain; the flat file only shortens
 * recovery. `v000012.flat.bin` + `v000012.flat.json` (committed by the rename, as a version).
 */
export function flatManifestName(v: number): string {
  return `${versionName(v)}.flat.json`;
}

/** Data file of a flat increment: `v000012.flat.bin`. */
export function flatDataName(v: number): string {
  return `${versionName(v)}.flat.bin`;
}

export const FLAT_MANIFEST_RE = /^v(\d{6,})\.flat\.json$/;
export const FLAT_DATA_RE = /^v(\d{6,})\.flat\.bin$/;

export function blobDtype(a: Float32Array | Int32Array | Uint8Array | Float64Array): BlobDtype {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Int32Array) return 'i32';
  if (a instanceof Float64Array) return 'f64';
  return 'u8';
}
