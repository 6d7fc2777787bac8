/**
 * Background checkpoint writer: one worker thread (writer-worker.ts) that runs the
 * commit protocol of one version at a time from a file image the store built. The
 * thread makes progress while training runs (the training loop rarely yields to the
 * event loop, so promise-based I/O on this thread would stall until the next await
 * of real I/O). The worker is started on the first job and is unref'ed while idle,
 * so it never keeps the process alive; {@link close} stops it.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type ErrorCode, PipelineError } from '../../../pipeline/errors.js';
import { InjectedCrash, type ManifestHead } from './commit.js';
import type { FlatResult } from './flat.js';
import type { Layout } from './sections.js';
import type { CommitStep } from './types.js';

/** @internal a job for the worker */
export interface WriteJob {
  dir: string;
  head: ManifestHead;
  layout: Layout;
  /** the arena; the file is image[0, imageBytes) */
  image: Uint8Array;
  imageBytes: number;
  failAfter?: CommitStep;
  startedAt: number;
  /** keepChains to prune with after this (full) version; null = no pruning */
  keepChains: number | null;
  /** after answering 'done', write the version's flat increment (flat.ts) and post a 'flat' message */
  flat: boolean;
  failFlatAfter?: CommitStep;
}

/** @internal what the worker posts after a flat increment (never an answer to a job) */
export type FlatReply = { type: 'flat'; version: number; ok: true; result: FlatResult | null } | { type: 'flat'; version: number; ok: false; error: string };

/** @internal the worker's answer; `image` is the arena, transferred back */
export type WriteReply =
  | { type: 'done'; version: number; dataBytes: number; bytes: number; pruned: string | null; finishedAt: number; image: Uint8Array }
  | {
      type: 'error';
      version: number;
      error: { code: ErrorCode; message: string; file?: string; field?: string; expected?: string; actual?: string; hint?: string };
      crash: CommitStep | null;
      committed: boolean;
      image: Uint8Array;
    };

/** A committed background write. */
export interface WriteDone {
  dataBytes: number;
  bytes: number;
  pruned: string | null;
  /** epoch milliseconds when the worker finished (commit and pruning) */
  finishedAt: number;
}

/** A failed background write: the error, whether the version committed anyway, the arena back (or null if lost). */
export class WriteFailed extends Error {
  constructor(
    readonly error: Error,
    readonly committed: boolean,
    readonly image: Uint8Array | null,
  ) {
    super(error.message);
  }
}

function startWorker(): Worker {
  const self = import.meta.url;
  const entry = new URL(`./writer-worker.${self.endsWith('.ts') ? 'ts' : 'js'}`, self).href;
  if (!self.endsWith('.ts')) return new Worker(new URL(entry));
  // under a TypeScript loader (tsx, vitest) the worker registers tsx first
  const tsxApi = pathToFileURL(createRequire(self).resolve('tsx/esm/api').replace(/\.cjs$/, '.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true });
}

export class BackgroundWriter {
  private worker: Worker | null = null;
  private pending: { resolve: (r: WriteReply) => void; reject: (e: Error) => void } | null = null;

  /** @param onFlat called with each flat increment the worker wrote (or failed to write), after the version's own answer */
  constructor(private readonly onFlat: (m: FlatReply) => void = () => {}) {}

  /**
   * Run one job on the worker; `job.image`'s buffer is transferred (detached here).
   * @returns the result and the arena (transferred back)
   * @throws WriteFailed
   */
  async write(job: WriteJob): Promise<{ done: WriteDone; image: Uint8Array }> {
    if (this.pending) throw new PipelineError('internal', 'a checkpoint write is already in flight');
    const w = (this.worker ??= this.start());
    w.ref();
    let reply: WriteReply;
    try {
      reply = await new Promise<WriteReply>((resolve, reject) => {
        this.pending = { resolve, reject };
        w.postMessage(job, [job.image.buffer as ArrayBuffer]);
      });
    } catch (e) {
      throw new WriteFailed(e as Error, false, null);
    } finally {
      this.pending = null;
      this.worker?.unref();
    }
    if (reply.type === 'done') return { done: { dataBytes: reply.dataBytes, bytes: reply.bytes, pruned: reply.pruned, finishedAt: reply.finishedAt }, image: reply.image };
    const { code, message, ...fields } = reply.error;
    const err = reply.crash !== null ? new InjectedCrash(reply.crash) : new PipelineError(code, message, fields);
    throw new WriteFailed(err, reply.committed, reply.image);
  }

  /** Start the worker now (unref'ed), so its start-up overlaps other work instead of delaying the first write. */
  warm(): void {
    (this.worker ??= this.start()).unref();
  }

  /** Stop the worker (after the caller awaited the last write). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private start(): Worker {
    const w = startWorker();
    const fail = (e: Error): void => {
      // the worker died: a pending job fails, the next job starts a new worker
      if (this.worker === w) this.worker = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(e);
    };
    w.on('message', (r: WriteReply | FlatReply) => {
      if (r.type === 'flat') {
        this.onFlat(r);
        return;
      }
      const p = this.pending;
      this.pending = null;
      p?.resolve(r);
    });
    w.on('error', fail);
    w.on('exit', (code) => fail(new PipelineError('internal', `the checkpoint writer thread exited (code ${code})`)));
    return w;
  }
}
