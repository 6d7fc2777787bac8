/**
 * Checkpoint file I/O: a writer that checksums what it writes (no re-read to get the
 * checksum) and a reader that checksums what it reads and checks size, header and
 * checksum against the manifest. Both move typed arrays without copying them.
 * The checksum is CRC-32 (`zlib.crc32`, several GB/s; sha256 was ~1.5 GB/s and bound
 * saves and restores): it detects every burst error up to 32 bits (any single damaged
 * byte) and random damage with probability 1 − 2⁻³². Manifests keep their sha256.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { crc32 } from 'node:zlib';
import { PipelineError } from '../../../pipeline/errors.js';
import { gatherRows } from './delta.js';
import { CHECKSUM_ALGO, type CheckpointFileEntry, FILE_FORMAT_VERSION, FILE_MAGIC, HEADER_BYTES, type Section } from './format.js';
import type { SectionSink } from './sections.js';

if (endianness() !== 'LE') {
  throw new PipelineError('not_implemented', 'checkpoints are little-endian; this machine is big-endian');
}

const ZERO8 = new Uint8Array(8);
/** Writes at least this large go straight from the caller's array; smaller ones are staged. */
const DIRECT_BYTES = 1 << 18;
const STAGE_BYTES = 1 << 20;
/** Large reads and writes are checksummed in chunks of this size, each right after it is moved (still in cache). */
const HASH_CHUNK = 1 << 20;
/** Read-ahead buffer shared by readers (one reader is active at a time: everything is synchronous). */
const READ_AHEAD = new Uint8Array(STAGE_BYTES);
/** Scratch for skipped bytes. */
const SKIP = new Uint8Array(1 << 20);
/** Scratch for gathered rows (one writer is active at a time per thread). */
let ROWS = new Float32Array(0);

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Running CRC-32 of a byte stream. */
class Crc {
  private v = 0;
  update(b: Uint8Array): void {
    if (b.length > 0) this.v = crc32(b, this.v);
  }
  /** 8 lowercase hex digits. */
  hex(): string {
    return (this.v >>> 0).toString(16).padStart(8, '0');
  }
}

/** Write-once data file: header, payload, running CRC-32. Call {@link sync} then {@link close}. */
export class HashingWriter implements SectionSink {
  private fd: number | undefined;
  private readonly hash = new Crc();
  private pos = 0;
  private readonly stage = new Uint8Array(STAGE_BYTES);
  private staged = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, 'w');
  }

  /** The 16-byte file header. */
  header(section: Section, count: number): void {
    const h = new Uint32Array([FILE_MAGIC, FILE_FORMAT_VERSION, section, count]);
    this.write(h);
  }

  /** Append the bytes of a typed array: large ones without a copy, small ones staged into one write. */
  write(v: ArrayBufferView): void {
    const b = bytesOf(v);
    this.pos += b.length;
    if (b.length >= DIRECT_BYTES) {
      this.flush();
      for (let off = 0; off < b.length; off += HASH_CHUNK) {
        const c = b.subarray(off, Math.min(b.length, off + HASH_CHUNK));
        this.writeAll(c);
        this.hash.update(c);
      }
      return;
    }
    if (this.staged + b.length > this.stage.length) this.flush();
    this.stage.set(b, this.staged);
    this.staged += b.length;
  }

  /** Append rows ids[0..n) of src (rows×width), gathered into a reused scratch buffer. */
  writeRows(src: Float32Array, ids: Int32Array, n: number, width: number): void {
    if (ROWS.length < n * width) ROWS = new Float32Array(Math.max(n * width, ROWS.length * 2));
    gatherRows(ROWS, src, ids, n, width);
    this.write(ROWS.subarray(0, n * width));
  }

  /** Write the staged bytes, checksummed as one run (in file order: flushed before every direct write). */
  private flush(): void {
    if (this.staged > 0) {
      const s = this.stage.subarray(0, this.staged);
      this.writeAll(s);
      this.hash.update(s);
    }
    this.staged = 0;
  }

  private writeAll(b: Uint8Array): void {
    if (this.fd === undefined) throw new PipelineError('internal', `write after close: ${this.path}`, { file: this.path });
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
  }

  /** Zero-pad to a multiple of 8 bytes. */
  pad8(): void {
    const r = this.pos & 7;
    if (r !== 0) this.write(ZERO8.subarray(0, 8 - r));
  }

  get bytes(): number {
    return this.pos;
  }

  /** Write what is staged and fsync. */
  sync(): void {
    this.flush();
    if (this.fd !== undefined) fsyncSync(this.fd);
  }

  /** Close the file (staged bytes not yet written by {@link sync} are dropped). */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.staged = 0;
  }

  /** Manifest entry; `rel` is the path relative to the checkpoint directory. */
  entry(rel: string): CheckpointFileEntry {
    return { path: rel, bytes: this.pos, checksum: { algo: CHECKSUM_ALGO, value: this.hash.hex() } };
  }
}

/** `checksum` error naming the file. */
export function checksumError(file: string, message: string, fields: { expected?: string; actual?: string } = {}): PipelineError {
  return new PipelineError('checksum', `${message}: ${file}`, {
    file,
    ...fields,
    hint: 'the checkpoint file is damaged; `hotcold checkpoint verify <dir>` lists every bad file',
  });
}

/**
 * Reader of one data file, checked against its manifest entry. The size is
 * checked at open (truncation), the header on {@link header}, the checksum on
 * {@link finish}; every failure is a `checksum` PipelineError naming the file.
 */
export class HashingReader {
  private fd: number | undefined;
  private readonly hash = new Crc();
  private pos = 0;
  private readonly buf = READ_AHEAD;
  private bufPos = 0;
  private bufEnd = 0;

  constructor(
    readonly path: string,
    private readonly expected: CheckpointFileEntry,
  ) {
    this.fd = openChecked(path, expected);
  }

  /** Read and check the header; returns its count field. */
  header(section: Section): number {
    const h = new Uint32Array(HEADER_BYTES / 4);
    this.readInto(h);
    if (h[0] !== FILE_MAGIC || h[1] !== FILE_FORMAT_VERSION || h[2] !== section) {
      throw checksumError(this.path, `bad checkpoint file header (magic/version/section ${h[0]}/${h[1]}/${h[2]})`);
    }
    return h[3] ?? 0;
  }

  /** Fill a typed array from the file: large reads go straight into it, small ones through a read-ahead buffer. */
  readInto(v: ArrayBufferView): void {
    const b = bytesOf(v);
    if (this.fd === undefined) throw new PipelineError('internal', `read after close: ${this.path}`, { file: this.path });
    let off = 0;
    // serve what the read-ahead buffer holds
    const have = this.bufEnd - this.bufPos;
    if (have > 0) {
      const n = Math.min(have, b.length);
      b.set(this.buf.subarray(this.bufPos, this.bufPos + n));
      this.bufPos += n;
      off = n;
    }
    // small requests refill the read-ahead buffer; a large one reads the rest straight into the caller's
    // array even when that rest is small (refilling there would copy the next ~1 MiB twice)
    if (off < b.length && b.length < DIRECT_BYTES) {
      // refill the buffer with one read
      this.bufPos = 0;
      this.bufEnd = 0;
      while (this.bufEnd < b.length - off) {
        const n = readSync(this.fd, this.buf, this.bufEnd, this.buf.length - this.bufEnd, null);
        if (n === 0) break;
        this.bufEnd += n;
      }
      const n = Math.min(this.bufEnd, b.length - off);
      b.set(this.buf.subarray(0, n), off);
      this.bufPos = n;
      off += n;
    }
    if (off > 0) this.hash.update(b.subarray(0, off));
    // large reads: straight into the caller's array, checksummed chunk by chunk while the chunk is in cache
    while (off < b.length) {
      const end = Math.min(b.length, off + HASH_CHUNK);
      const from = off;
      while (off < end) {
        const n = readSync(this.fd, b, off, end - off, null);
        if (n === 0) throw checksumError(this.path, 'truncated checkpoint file (unexpected end)');
        off += n;
      }
      this.hash.update(b.subarray(from, end));
    }
    this.pos += b.length;
  }

  /** Skip zero padding to a multiple of 8 bytes (it is checksummed too). */
  pad8(): void {
    const r = this.pos & 7;
    if (r !== 0) this.readInto(new Uint8Array(8 - r));
  }

  /** Read up to byte `offset`, checksumming what is skipped (sections not needed are still checked). */
  skipTo(offset: number): void {
    if (offset < this.pos) throw checksumError(this.path, `checkpoint section offset ${offset} is behind the read position ${this.pos}`);
    while (this.pos < offset) this.readInto(SKIP.subarray(0, Math.min(SKIP.length, offset - this.pos)));
  }

  get offset(): number {
    return this.pos;
  }

  /** Check everything was read and the checksum matches; closes the file. */
  finish(): void {
    this.close();
    if (this.pos !== this.expected.bytes) {
      throw checksumError(this.path, `checkpoint file layout does not match its manifest (read ${this.pos} of ${this.expected.bytes} bytes)`);
    }
    checkDigest(this.path, this.expected, this.hash.hex());
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Compare a computed CRC-32 with the manifest entry's. */
function checkDigest(path: string, expected: CheckpointFileEntry, actual: string): void {
  if (actual !== expected.checksum.value) {
    throw checksumError(path, `checksum mismatch in checkpoint file (${CHECKSUM_ALGO})`, { expected: expected.checksum.value, actual });
  }
}

/** Open a data file and check its size against the manifest entry; the caller closes the fd. */
function openChecked(path: string, expected: CheckpointFileEntry): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw checksumError(path, 'checkpoint file is missing');
  }
  try {
    checkSize(path, fstatSync(fd).size, expected.bytes);
  } catch (e) {
    closeSync(fd);
    throw e;
  }
  return fd;
}

/** Read `out.length` bytes (from the file position) into `out`, CRC-32 chunk by chunk while each is in cache. */
function readChecksummed(fd: number, path: string, out: Uint8Array, crc: Crc): void {
  let off = 0;
  while (off < out.length) {
    const end = Math.min(out.length, off + HASH_CHUNK);
    const from = off;
    while (off < end) {
      const n = readSync(fd, out, off, end - off, null);
      if (n === 0) throw checksumError(path, 'truncated checkpoint file (unexpected end)');
      off += n;
    }
    crc.update(out.subarray(from, end));
  }
}

/**
 * Read a whole data file into `buf` (grown when too small) and check its size and
 * CRC-32 against the manifest entry before the caller uses any byte of it.
 * @returns the buffer holding the file in [0, expected.bytes)
 * @throws PipelineError `checksum` naming the file (missing, truncated, wrong size, mismatch)
 */
export function readVerified(path: string, expected: CheckpointFileEntry, buf: Uint8Array): Uint8Array {
  const fd = openChecked(path, expected);
  try {
    const out = buf.length >= expected.bytes ? buf : new Uint8Array(Math.max(expected.bytes, buf.length * 2));
    const crc = new Crc();
    readChecksummed(fd, path, out.subarray(0, expected.bytes), crc);
    checkDigest(path, expected, crc.hex());
    return out;
  } finally {
    closeSync(fd);
  }
}

/**
 * Check one data file against its manifest entry (size, then CRC-32), streaming it
 * through a 1 MiB buffer.
 * @throws PipelineError `checksum` naming the file (missing, truncated, wrong size, mismatch)
 */
export function verifyFile(path: string, expected: CheckpointFileEntry): void {
  const fd = openChecked(path, expected);
  try {
    const crc = new Crc();
    for (let left = expected.bytes; left > 0; left -= SKIP.length) readChecksummed(fd, path, SKIP.subarray(0, Math.min(left, SKIP.length)), crc);
    checkDigest(path, expected, crc.hex());
  } finally {
    closeSync(fd);
  }
}

/** `checksum` error when a file's size differs from its manifest's (truncation named as such). */
export function checkSize(path: string, size: number, expected: number): void {
  if (size === expected) return;
  const what = size < expected ? 'truncated checkpoint file' : 'checkpoint file has the wrong size';
  throw checksumError(path, `${what} (${size} bytes, manifest says ${expected})`, { expected: String(expected), actual: String(size) });
}

/** Check the 16-byte section header at byte `at` of an in-memory file; returns its count field. */
export function headerAt(path: string, file: Uint8Array, at: number, section: Section): number {
  if (at < 0 || (at & 7) !== 0 || at + HEADER_BYTES > file.length) throw checksumError(path, `checkpoint section offset ${at} is outside the file or unaligned`);
  const h = new Uint32Array(file.buffer, file.byteOffset + at, HEADER_BYTES / 4);
  if (h[0] !== FILE_MAGIC || h[1] !== FILE_FORMAT_VERSION || h[2] !== section) {
    throw checksumError(path, `bad checkpoint file header (magic/version/section ${h[0]}/${h[1]}/${h[2]})`);
  }
  return h[3] ?? 0;
}
