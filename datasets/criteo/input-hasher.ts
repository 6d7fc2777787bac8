/**
 * sha256 of input files on a thread of its own, for the parallel read
 * (`parallel.ts`): the parse worker is the busiest thread of a preprocess run
 * and hashing its input there cost ≈ 0.17 CPU-s per 1M Kaggle rows (242 MB),
 * while the other threads wait on each other part of the time. This thread reads
 * each regular file itself (from the page cache the parser fills, or ahead of it)
 * and hashes the bytes on disk, as `reader.ts` does inline: the same digest.
 * The fingerprint's (path, size, mtime) stamp still guards against a file changed
 * between runs; a file rewritten *during* a run could differ from what was parsed,
 * as it could before between the fingerprint and the read. FIFOs are hashed inline.
 * Plain JavaScript, eval'd, node: built-ins only (starts in milliseconds).
 */
import { Worker } from 'node:worker_threads';

const SOURCE = `
Promise.all([import('node:worker_threads'), import('node:fs'), import('node:crypto')]).then(([{ parentPort, workerData }, fs, { createHash }]) => {
  const buf = Buffer.allocUnsafe(1 << 22);
  for (const [i, path] of workerData.paths.entries()) {
    try {
      const h = createHash('sha256');
      const fd = fs.openSync(path, 'r');
      try {
        for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
      } finally {
        fs.closeSync(fd);
      }
      parentPort.postMessage({ i, sha256: h.digest('hex') });
    } catch (e) {
      parentPort.postMessage({ i, error: String((e && e.message) || e), code: e && e.code, errno: e && e.errno, syscall: e && e.syscall, path: e && e.path });
    }
  }
});
`;

interface Reply {
  i: number;
  sha256?: string;
  error?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** Digests of files hashed on a background thread, in order; {@link InputHasher.close} it. */
export class InputHasher {
  private readonly worker: Worker;
  /** one per path: resolves with the hex digest */
  readonly digests: Promise<string>[];

  constructor(paths: string[]) {
    const settle: { resolve: (h: string) => void; reject: (e: Error) => void }[] = [];
    this.digests = paths.map((): Promise<string> => new Promise((resolve, reject) => settle.push({ resolve, reject })));
    for (const d of this.digests) d.catch(() => {}); // awaited by the reader; never unhandled meanwhile
    this.worker = new Worker(SOURCE, { eval: true, workerData: { paths } });
    this.worker.on('message', (m: Reply) => {
      const s = settle[m.i]!;
      if (m.sha256 !== undefined) s.resolve(m.sha256);
      else s.reject(Object.assign(new Error(m.error ?? 'hashing the input failed'), { code: m.code, errno: m.errno, syscall: m.syscall, path: m.path }));
    });
    const failAll = (e: Error): void => {
      for (const s of settle) s.reject(e);
    };
    this.worker.on('error', failAll);
    this.worker.on('exit', () => failAll(new Error('the input hasher thread exited')));
    this.worker.unref();
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}
