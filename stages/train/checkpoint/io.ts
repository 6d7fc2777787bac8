/**
 * Checkpoint file I/O: a writer that hashes what it writes (no re-read to get the
 * checksum) and a reader that hashes what it reads and checks size, header and
 * checksum against the manifest. Both move typed arrays without copying them.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fstatSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { PipelineError } from '../../../pipeline/errors.js';
import type { FileEntry } from '../../../pipeline/manifest.js';
import { FILE_FORMAT_VERSION, FILE_MAGIC, HEADER_BYTES, type Section } from './format.js';

if (endianness() !== 'LE') {
  throw new PipelineError('not_implemented', 'checkpoints are little-endian; this machine is big-endian');
}

const ZERO8 = new Uint8Array(8);
/** Writes at least this large go straight from the caller's array; smaller ones are staged. */
const DIRECT_BYTES = 1 << 18;
const STAGE_BYTES = 1 << 20;
/** Large reads and writes are hashed in chunks of this size, each right after it is moved (still in cache). */
const HASH_CHUNK = 1 << 20;
/** Read-ahead buffer shared by readers (one reader is active at a time: everything is synchronous). */
const READ_AHEAD = new Uint8Array(STAGE_BYTES);
/** Scratch for skipped bytes. */
const SKIP = new Uint8Array(1 << 20);

function bytesOf(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Write-once data file: header, payload, running sha256. Call {@link sync} then {@link close}. */
export class HashingWriter {
  private fd: number | undefined;
  private readonly hash: Hash = createHash('sha256');
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
    this.hash.update(b);
    if (this.staged + b.length > this.stage.length) this.flush();
    this.stage.set(b, this.staged);
    this.staged += b.length;
  }

  private flush(): void {
    if (this.staged > 0) this.writeAll(this.stage.subarray(0, this.staged));
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
  entry(rel: string): FileEntry {
    return { path: rel, bytes: this.pos, sha256: this.hash.copy().digest('hex') };
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
  private readonly hash: Hash = createHash('sha256');
  private pos = 0;
  private readonly buf = READ_AHEAD;
  private bufPos = 0;
  private bufEnd = 0;

  constructor(
    readonly path: string,
    private readonly expected: FileEntry,
  ) {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch {
      throw checksumError(path, 'checkpoint file is missing');
    }
    const size = fstatSync(fd).size;
    if (size !== expected.bytes) {
      closeSync(fd);
      const what = size < expected.bytes ? 'truncated checkpoint file' : 'checkpoint file has the wrong size';
      throw checksumError(path, `${what} (${size} bytes, manifest says ${expected.bytes})`, {
        expected: String(expected.bytes),
        actual: String(size),
      });
    }
    this.fd = fd;
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
    if (off < b.length && b.length - off < DIRECT_BYTES) {
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
    // large reads: straight into the caller's array, hashed chunk by chunk while the chunk is in cache
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

  /** Skip zero padding to a multiple of 8 bytes (it is hashed too). */
  pad8(): void {
    const r = this.pos & 7;
    if (r !== 0) this.readInto(new Uint8Array(8 - r));
  }

  /** Read up to byte `offset`, hashing what is skipped (sections not needed are still checked). */
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
    const actual = this.hash.digest('hex');
    if (actual !== this.expected.sha256) {
      throw checksumError(this.path, 'checksum mismatch in checkpoint file', { expected: this.expected.sha256, actual });
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Read a whole data file into `buf` (grown when too small) and check its size and
 * sha256 against the manifest entry before the caller uses any byte of it.
 * @returns the buffer holding the file in [0, expected.bytes)
 * @throws PipelineError `checksum` naming the file (missing, truncated, wrong size, mismatch)
 */
export function readVerified(path: string, expected: FileEntry, buf: Uint8Array): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw checksumError(path, 'checkpoint file is missing');
  }
  try {
    checkSize(path, fstatSync(fd).size, expected.bytes);
    const out = buf.length >= expected.bytes ? buf : new Uint8Array(Math.max(expected.bytes, buf.length * 2));
    const hash = createHash('sha256');
    let off = 0;
    while (off < expected.bytes) {
      const end = Math.min(expected.bytes, off + HASH_CHUNK);
      const from = off;
      while (off < end) {
        const n = readSync(fd, out, off, end - off, null);
        if (n === 0) throw checksumError(path, 'truncated checkpoint file (unexpected end)');
        off += n;
      }
      hash.update(out.subarray(from, end));
    }
    const actual = hash.digest('hex');
    if (actual !== expected.sha256) throw checksumError(path, 'checksum mismatch in checkpoint file', { expected: expected.sha256, actual });
    return out;
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
