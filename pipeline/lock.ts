/**
 * One writer per directory: a lock file beside the directory it guards
 * (`<parent>/.<name>.hotcold.lock`, so it survives the directory being swapped
 * or emptied), created atomically (`O_EXCL`) and holding who took it:
 *
 *     { "pid": 4242, "host": "box", "startTicks": 123456, "command": "train", "at": "…" }
 *
 * A lock whose process is gone — same host, and the pid is dead or now belongs to
 * a process that started at another time (`/proc/<pid>/stat`) — is stale and is
 * taken over with a warning. A lock from another host is never taken over: its
 * holder cannot be checked from here. Locks are released on {@link DirLock.release}
 * and, as a backstop, when the process exits.
 */
import { closeSync, existsSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { PipelineError } from './errors.js';
import { ioError } from './io-error.js';

/** What a lock file holds. */
export interface LockInfo {
  pid: number;
  host: string;
  /** start time of the holder in clock ticks since boot (Linux), null where unknown */
  startTicks: number | null;
  /** the hotcold command that holds it */
  command: string;
  /** ISO time the lock was taken */
  at: string;
}

/** Ending of every lock file name. */
export const LOCK_SUFFIX = '.hotcold.lock';

/** Path of the lock file that guards `dir`. */
export function lockPath(dir: string): string {
  return join(dirname(dir), `.${basename(dir)}${LOCK_SUFFIX}`);
}

/** Start time (clock ticks since boot) of a process, or null where /proc is unavailable. */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[19]); // field 22 overall: starttime
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** True when the process that took `info` is still running (on this host: checked; elsewhere: assumed). */
export function holderAlive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true;
  if (!pidAlive(info.pid)) return false;
  const ticks = processStartTicks(info.pid);
  return info.startTicks === null || ticks === null || ticks === info.startTicks;
}

/** Read a lock file; null when absent or unreadable (a half-written lock is treated as absent). */
export function readLock(path: string): LockInfo | null {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.host !== 'string') return null;
    return { pid: v.pid, host: v.host, startTicks: v.startTicks ?? null, command: v.command ?? '?', at: v.at ?? '?' };
  } catch {
    return null;
  }
}

/** The live holder of the lock on `dir`, or null when it is free or stale. */
export function liveHolder(dir: string): LockInfo | null {
  const info = readLock(lockPath(dir));
  return info && holderAlive(info) ? info : null;
}

const held = new Set<DirLock>();
let exitHookInstalled = false;

/** A held lock on a directory. */
export class DirLock {
  private released = false;

  constructor(
    readonly dir: string,
    readonly path: string,
    readonly info: LockInfo,
  ) {
    held.add(this);
  }

  /** Remove the lock file if it is still ours. Idempotent. */
  release(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this);
    const now = readLock(this.path);
    if (now && now.pid === this.info.pid && now.at === this.info.at) rmSync(this.path, { force: true });
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of [...held]) l.release();
  });
}

function describeHolder(i: LockInfo): string {
  return `pid ${i.pid}${i.host !== hostname() ? ` on host ${i.host}` : ''} (hotcold ${i.command}, since ${i.at})`;
}

function tryCreate(path: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw ioError(e, 'create lock file', path);
  }
  try {
    writeSync(fd, JSON.stringify(info) + '\n');
  } catch (e) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw ioError(e, 'write lock file', path);
  }
  closeSync(fd);
  return true;
}

/**
 * Take the lock on `dir` for `command`.
 * @param warn told when a stale lock (dead holder) is taken over
 * @throws PipelineError `locked` when a live process holds it
 */
export function acquireLock(dir: string, command: string, warn: (msg: string) => void): DirLock {
  const path = lockPath(dir);
  const info: LockInfo = { pid: process.pid, host: hostname(), startTicks: processStartTicks(process.pid), command, at: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(path, info)) {
      installExitHook();
      return new DirLock(dir, path, info);
    }
    const cur = readLock(path);
    if (cur && holderAlive(cur)) {
      if (cur.pid === process.pid && cur.host === info.host) {
        throw new PipelineError('locked', `${dir} is already in use by this process (hotcold ${cur.command})`, { file: dir });
      }
      throw new PipelineError('locked', `${dir} is in use by ${describeHolder(cur)}`, {
        file: dir,
        hint: cur.host !== info.host
          ? `if that host is down, remove ${path}`
          : 'wait for it to finish, or stop it; two writers would destroy each other\'s output',
      });
    }
    // stale (or unreadable): move it aside under a name of our own, check it is the one we judged, then retry
    const aside = `${path}.stale-${process.pid}`;
    try {
      renameSync(path, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readLock(aside);
    if (moved && holderAlive(moved)) {
      // a live holder took it over between our read and our rename: put it back
      try {
        linkSync(aside, path);
      } catch {
        /* a third process holds it now; the retry will see it */
      }
      rmSync(aside, { force: true });
      continue;
    }
    rmSync(aside, { force: true });
    if (cur) warn(`warning: took over the lock on ${dir} from ${describeHolder(cur)}, which is no longer running`);
  }
  throw new PipelineError('locked', `could not take the lock on ${dir} (it keeps changing hands)`, { file: dir, hint: `remove ${path} if no hotcold command uses ${dir}` });
}

/** True when `dir` has a lock file (live or stale). */
export function hasLockFile(dir: string): boolean {
  return existsSync(lockPath(dir));
}
