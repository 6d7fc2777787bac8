/**
 * Operating-system I/O failures (disk full, permission denied, read-only
 * filesystem, …) as {@link PipelineError}s that name the path and the operation,
 * so the command line prints one located line instead of a stack trace.
 */
import { PipelineError } from './errors.js';

/** Plain words for the errno codes a user meets. */
const WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'a path component is not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ENOTEMPTY: 'directory not empty',
  EXDEV: 'cross-device rename',
  EFBIG: 'file too large',
  ENAMETOOLONG: 'file name too long',
};

const HINTS: Record<string, string> = {
  ENOSPC: 'free space on that filesystem or choose an output on another one; the last committed output is intact',
  EDQUOT: 'free space within your quota or choose an output elsewhere',
  EACCES: 'check the permissions of that path, or choose another --out',
  EROFS: 'choose an output on a writable filesystem',
  EMFILE: 'raise the open-file limit (ulimit -n)',
};

/** True for an error thrown by a Node fs/os call (it carries an errno `code` and a `syscall`). */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException {
  const x = e as NodeJS.ErrnoException | null;
  return x instanceof Error && typeof x.code === 'string' && /^E[A-Z0-9]+$/.test(x.code) && typeof x.syscall === 'string';
}

/**
 * Wrap a system error raised while doing `op` on `path` (the path the error
 * itself names wins when it has one). Anything else is returned unchanged.
 */
export function ioError(e: unknown, op: string, path?: string): unknown {
  if (e instanceof PipelineError || !isSystemError(e)) return e;
  const where = e.path ?? path;
  const words = WORDS[e.code!] ?? e.message;
  return new PipelineError('io', `${op} failed: ${words} (${e.code})`, {
    file: where,
    cause: e,
    hint: HINTS[e.code!],
  });
}

/** Turn a system error into a located PipelineError with a generic operation name from its syscall. */
export function fromSystemError(e: NodeJS.ErrnoException): PipelineError {
  const op = { open: 'open', write: 'write', read: 'read', mkdir: 'create directory', rename: 'rename', unlink: 'remove', rmdir: 'remove directory', fsync: 'fsync', scandir: 'list directory', stat: 'stat', copyfile: 'copy', close: 'close' }[e.syscall ?? ''] ?? e.syscall ?? 'I/O';
  return ioError(e, op, e.path) as PipelineError;
}

/** Run `fn`, converting a system error into a located PipelineError. */
export function withIo<T>(op: string, path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw ioError(e, op, path);
  }
}
