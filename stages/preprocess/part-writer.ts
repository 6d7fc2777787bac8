/**
 * Part-file writer on its own thread: checksum (XXH64, pipeline/xxh64.ts) + write + fsync of
 * encoded part shards, off the main thread.
 *
 * Why a thread and not the libuv pool: the main thread runs categorify without
 * yielding while the parse worker keeps its queue full, so a write chained
 * through promises (open → write → fsync → close) advanced only when the main
 * thread ran out of input, and each part's write ended up serialised with the
 * main loop (≈ 75 ms per 40 MB part, 2.9 s of 14 s at 10M rows). Here the bytes
 * are transferred (not copied) to a small worker that hashes and writes them
 * synchronously, whatever the main thread does. The worker is plain JavaScript
 * (eval'd, node: built-ins only), so it starts in milliseconds even under tsx.
 *
 * Direct I/O (`O_DIRECT`, with the parse addon's `writeDirect`): a buffered write of a 41 MB part
 * spent ≈ 90 ms of kernel time copying it into fresh page-cache pages (perf: 2.6 of 3.4 CPU-s of
 * this thread at 10M rows); written direct through an aligned bounce buffer (hashed while it is in
 * cache) the thread needs ≈ 0.3 CPU-s for the same bytes, at the same disk speed (the disk floor
 * in `npm run bench:preprocess`). The cost: such shards are not in the page cache, so the next
 * stage reads them from the disk, which here costs it more than the writer saved — hence
 * `--direct-io auto` ({@link directFromBytes}): direct only past what the page cache could keep.
 * A filesystem that refuses O_DIRECT (EINVAL: tmpfs on older kernels, some network and FUSE
 * filesystems) gets buffered writes from its first refusal on.
 */
import { freemem } from 'node:os';
import { Worker } from 'node:worker_threads';
import { nativeXxh64, parseAddonFile, xxh64 } from '../../pipeline/xxh64.js';

/**
 * The worker: one message = one file; replies `{ id, hash }` or `{ id, error, code }`. It hashes
 * with the parse addon's XXH64 (workerData.addon, its path); without the addon the caller sends
 * the hash along (computed by the TypeScript twin).
 */
const WORKER_SOURCE = `
// import(), not require(): an eval'd worker is ESM when the parent runs with --input-type=module
Promise.all([import('node:worker_threads'), import('node:fs'), import('node:module'), import('node:util')]).then(([{ parentPort, workerData }, fs, { createRequire }, util]) => {
  const addon = workerData.addon ? createRequire(workerData.addon)(workerData.addon) : null;
  const state = new Uint8Array(80);
  const { O_WRONLY, O_CREAT, O_TRUNC, O_DIRECT } = fs.constants;
  // direct I/O where asked and while the filesystem takes it (some refuse it: EINVAL, then buffered)
  let directOk = Boolean(addon && typeof addon.writeDirect === 'function' && O_DIRECT);
  // a -errno as Node's own fs errors read: "ENOSPC: no space left on device, write '<path>'"
  const sysError = (rc, syscall, path) => {
    const [code, words] = util.getSystemErrorMap().get(rc) ?? [util.getSystemErrorName(rc), 'unknown error'];
    return Object.assign(new Error(code + ': ' + words + ', ' + syscall + " '" + path + "'"), { code, errno: rc, syscall, path });
  };
  const writeBuffered = (path, bytes) => {
    const fd = fs.openSync(path, 'w');
    try {
      let off = 0;
      while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  };
  // true when written, hashed into state and fsynced; false when this filesystem refuses direct I/O
  const writeDirect = (path, bytes) => {
    let fd;
    try {
      fd = fs.openSync(path, O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT, 0o666);
    } catch (e) {
      if (e && e.code === 'EINVAL') return false;
      throw e;
    }
    try {
      addon.xxh64Init(state);
      const rc = addon.writeDirect(fd, bytes, state);
      if (rc === -22) return false; // EINVAL
      if (rc < 0) throw sysError(rc, 'write', path);
      fs.fsyncSync(fd);
      return true;
    } finally {
      fs.closeSync(fd);
    }
  };
  parentPort.on('message', (m) => {
    try {
      const bytes = new Uint8Array(m.buffer, 0, m.byteLength);
      let hash = m.hash;
      let direct = m.direct && directOk;
      if (direct && writeDirect(m.path, bytes)) {
        if (hash === undefined) hash = 'xxh64:' + addon.xxh64Digest(state);
      } else {
        if (direct) directOk = false;
        direct = false;
        if (hash === undefined) {
          addon.xxh64Init(state);
          addon.xxh64Update(state, bytes);
          hash = 'xxh64:' + addon.xxh64Digest(state);
        }
        writeBuffered(m.path, bytes);
      }
      // the buffer goes back for reuse (its pages are already mapped)
      parentPort.postMessage({ id: m.id, hash, direct, buffer: m.buffer }, [m.buffer]);
    } catch (e) {
      parentPort.postMessage({ id: m.id, error: String((e && e.message) || e), code: e && e.code, errno: e && e.errno, syscall: e && e.syscall, path: e && e.path });
    }
  });
});
`;

interface Reply {
  id: number;
  /** whether the file went through direct I/O */
  direct?: boolean;
  /** `xxh64:<hex>` of the bytes written */
  hash?: string;
  /** the written bytes' buffer, handed back */
  buffer?: ArrayBuffer;
  error?: string;
  /** a system error's fields, so the caller reports it as one (pipeline/io-error.ts) */
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** Free buffers kept for reuse (parts in flight are at most a couple). */
const FREE_BUFFERS = 3;

interface Waiter {
  resolve: (hash: string) => void;
  reject: (e: Error) => void;
}

/** When part shards go through O_DIRECT (`--direct-io`). */
export type DirectIo = 'auto' | 'on' | 'off';

/**
 * The bytes written buffered before direct I/O starts: `on` 0, `off` never, `auto` half of the
 * memory available now — the shards that the page cache can keep for the next stage are written
 * through it (`profile` right after a direct-written 10M-row run took 4.7–5.5 s against 2.9–3.0 s,
 * reading them back from the disk), the rest, which it could not keep anyway, direct.
 */
export function directFromBytes(when: DirectIo): number {
  if (when === 'on') return 0;
  if (when === 'off') return Number.POSITIVE_INFINITY;
  return Math.floor(freemem() / 2);
}

export interface PartWriterOptions {
  /**
   * bytes written (by this writer) before it switches to O_DIRECT, where the addon and the
   * filesystem allow it: 0 = from the first file, Infinity = never
   * @default 0
   */
  directFromBytes?: number;
  /**
   * writer threads; parts go to them in turn. Two keep two writes in flight (a direct write
   * waits for the disk: one at a time reached ≈ 235 MB/s here, two ≈ 265–295 MB/s).
   * @default 2
   */
  threads?: number;
}

/** Writes files on a background thread; create one per run and {@link PartWriter.close} it. */
export class PartWriter {
  /** whether the last file written went through direct I/O (null before any) */
  lastDirect: boolean | null = null;
  private readonly directFrom: number;
  /** bytes handed to {@link PartWriter.write} so far */
  private bytesIn = 0;
  /** the threads, started on first use; parts go to them in turn */
  private workers: Worker[] = [];
  private readonly threads: number;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiter>();
  /** written buffers back from the thread, for {@link PartWriter.takeBuffer} */
  private readonly free: ArrayBuffer[] = [];
  /** the parse addon's XXH64 loads (the thread hashes), else this thread hashes in TypeScript */
  private readonly nativeHash = nativeXxh64() !== null;

  constructor(opts: PartWriterOptions = {}) {
    this.directFrom = opts.directFromBytes ?? 0;
    this.threads = Math.max(1, opts.threads ?? 2);
  }

  private start(): Worker {
    const addon = this.nativeHash ? parseAddonFile() : null;
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { addon } });
    w.on('message', (m: Reply) => {
      const waiter = this.waiting.get(m.id);
      if (!waiter) return;
      this.waiting.delete(m.id);
      if (m.buffer && this.free.length < FREE_BUFFERS) this.free.push(m.buffer);
      if (m.direct !== undefined) this.lastDirect = m.direct;
      if (m.hash !== undefined) waiter.resolve(m.hash);
      else waiter.reject(Object.assign(new Error(m.error ?? 'part write failed'), { code: m.code, errno: m.errno, syscall: m.syscall, path: m.path }));
    });
    // a thread that fails fails the run: every write still waiting is rejected
    const failAll = (e: Error): void => {
      for (const waiter of this.waiting.values()) waiter.reject(e);
      this.waiting.clear();
      this.workers = this.workers.filter((x) => x !== w);
    };
    w.on('error', failAll);
    w.on('exit', () => failAll(new Error('the part writer thread exited')));
    this.workers.push(w);
    return w;
  }

  /**
   * Hash, write and fsync `bytes` to `path` (a new file) in the background.
   * `bytes` is handed over: do not use it afterwards.
   * @returns the bytes' `xxh64:<hex>` once the file is durable
   */
  write(path: string, bytes: Uint8Array): Promise<string> {
    // transfer a buffer that holds exactly these bytes (encodeShard's output does)
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    // without the addon the thread cannot hash: the TypeScript twin does it here
    const hash = this.nativeHash ? undefined : xxh64(own);
    const id = this.nextId++;
    const w = this.workers.length < this.threads ? this.start() : this.workers[id % this.workers.length]!;
    const done = new Promise<string>((resolve, reject) => this.waiting.set(id, { resolve, reject }));
    const direct = this.bytesIn >= this.directFrom;
    this.bytesIn += own.byteLength;
    w.postMessage({ id, path, hash, direct, buffer: own.buffer, byteLength: own.byteLength }, [own.buffer as ArrayBuffer]);
    return done;
  }

  /**
   * A buffer of an earlier write, done with and handed back (its pages are
   * mapped: encoding into it skips the page faults of a fresh 41 MB buffer), or
   * undefined when none is free (of `byteLength` bytes, when given).
   */
  takeBuffer(byteLength?: number): Uint8Array | undefined {
    const i = byteLength === undefined ? this.free.length - 1 : this.free.findIndex((b) => b.byteLength === byteLength);
    if (i < 0) return undefined;
    const [b] = this.free.splice(i, 1);
    return new Uint8Array(b!);
  }

  /** Stop the threads (after the caller has awaited their writes). */
  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    for (const w of ws) w.removeAllListeners('exit');
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
