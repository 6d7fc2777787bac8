/**
 * Output directories that never destroy what the user did not ask to destroy.
 *
 * Every command that writes a directory claims it first ({@link claimDir}):
 *
 * 1. **No overlap with inputs.** After resolving symlinks, an output may not equal,
 *    contain or lie inside any input of the same command (`--data`, `--hot`,
 *    `--profile`, `--input`, checkpoint sources): refused with both paths named.
 * 2. **One writer.** A lock beside the directory (pipeline/lock.ts); a second writer
 *    gets "in use by pid N"; a stale lock of a dead process is taken over with a warning.
 * 3. **Only our own output is ever cleaned.** A directory may be reused or replaced
 *    only when it is absent, empty, or holds this stage's marker: its committed
 *    manifest, or the `.hotcold-output.json` an earlier run of the stage wrote when
 *    it began. Anything else is refused unless `--force-clean` is given, and
 *    `--force-clean` never applies to `/`, the home directory, the current working
 *    directory or checkout, or any directory containing them.
 *
 * Pure stages (preprocess, profile, segregate) also build their output beside the
 * final directory and swap it in at commit ({@link openStagedOutput}): until the new
 * manifest is committed, the previous committed output stays intact and usable, and
 * a failed run (disk full, bad input) removes its partial output.
 *
 *     <parent>/<name>/                  the committed output (manifest.json)
 *     <parent>/.<name>.hotcold-new/     the run being built (removed on failure)
 *     <parent>/.<name>.hotcold-old/     the previous output during the swap (ms)
 *     <parent>/.<name>.hotcold.lock     the writer's lock
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fsyncDir, writeFileAtomicSync } from './atomic.js';
import { PipelineError } from './errors.js';
import { ioError, withIo } from './io-error.js';
import { acquireLock, LOCK_SUFFIX, type DirLock } from './lock.js';
import { PACKAGE_ROOT } from './package-root.js';
import { ARTIFACTS, hasManifest, manifestPath, readManifest, writeManifest, type ArtifactKind, type ManifestBase } from './manifest.js';

/** Written into an in-place output directory when a stage starts writing it. */
export const OUTPUT_MARKER = '.hotcold-output.json';

/** A path argument of a command, for overlap checks and messages. */
export interface PathArg {
  /** the option that named it, e.g. `--data` */
  flag: string;
  path: string;
}

/** What a command claims. */
export interface ClaimSpec {
  /** the output directory as given */
  dir: string;
  /** which artifact the directory holds (its manifest magic and its marker) */
  kind: ArtifactKind;
  /** the option that named it; @default '--out' */
  flag?: string;
  /** the command's inputs; the output may not overlap any of them */
  inputs?: readonly PathArg[];
  /** replace a directory that holds something else (never a protected one) */
  forceClean?: boolean;
  /** other entry names that mark the directory as this stage's (e.g. checkpoint files) */
  recognise?: (names: string[]) => boolean;
  /** where the warning about a taken-over stale lock goes; @default stderr */
  warn?: (msg: string) => void;
}

/** `path` resolved to an absolute path with symlinks resolved as far as it exists. */
export function realResolve(path: string): string {
  let p = resolve(path);
  const rest: string[] = [];
  for (;;) {
    try {
      const real = realpathSync(p);
      return rest.length > 0 ? join(real, ...rest.reverse()) : real;
    } catch {
      const parent = dirname(p);
      if (parent === p) return resolve(path);
      rest.push(basename(p));
      p = parent;
    }
  }
}

/** True when `inner` equals `outer` or lies inside it (both absolute and real). */
export function isWithin(inner: string, outer: string): boolean {
  if (inner === outer) return true;
  const r = relative(outer, inner);
  return r !== '' && !r.startsWith('..') && !r.startsWith(sep) && r !== '..';
}

/**
 * Refuse outputs that equal, contain or lie inside an input.
 * @throws PipelineError `unsafe_output` naming both paths
 */
export function checkNoOverlap(outputs: readonly PathArg[], inputs: readonly PathArg[]): void {
  for (const o of outputs) {
    const op = realResolve(o.path);
    for (const i of inputs) {
      const ip = realResolve(i.path);
      const how = op === ip ? 'is the same directory as' : isWithin(op, ip) ? 'lies inside' : isWithin(ip, op) ? 'contains' : null;
      if (how) {
        throw new PipelineError('unsafe_output', `${o.flag} ${o.path} ${how} ${i.flag} ${i.path}: writing it could destroy an input of this command; nothing was changed`, {
          hint: `choose a ${o.flag} that neither contains nor lies inside ${ip}`,
        });
      }
    }
  }
}

/** The git checkout around the working directory, if any. */
function cwdCheckout(): string | null {
  let d = process.cwd();
  for (;;) {
    if (existsSync(join(d, '.git'))) return d;
    const p = dirname(d);
    if (p === d) return null;
    d = p;
  }
}

/** Why `dir` may never be force-cleaned, or null. */
export function protectedReason(dir: string): string | null {
  const real = realResolve(dir);
  const guarded: [string, string][] = [
    ['/', 'the filesystem root'],
    [homedir(), 'your home directory'],
    [process.cwd(), 'the current working directory'],
    [PACKAGE_ROOT, 'the hotcold checkout'],
  ];
  const co = cwdCheckout();
  if (co) guarded.push([co, 'the current checkout']);
  for (const [p, what] of guarded) {
    const g = realResolve(p);
    if (isWithin(g, real)) return g === real ? `it is ${what}` : `it contains ${what} (${g})`;
  }
  return null;
}

/** What an existing directory holds, as far as a claim is concerned. */
type Holding = { kind: 'absent' } | { kind: 'empty' } | { kind: 'ours' } | { kind: 'other'; stage: string } | { kind: 'foreign'; names: string[] };

function readMarker(dir: string): string | null {
  try {
    const m = JSON.parse(readFileSync(join(dir, OUTPUT_MARKER), 'utf8')) as { stage?: unknown };
    return typeof m.stage === 'string' ? m.stage : null;
  } catch {
    return null;
  }
}

function manifestMagic(dir: string): string | null {
  try {
    const m = JSON.parse(readFileSync(manifestPath(dir), 'utf8')) as { magic?: unknown };
    return typeof m.magic === 'string' ? m.magic : null;
  } catch {
    return null;
  }
}

function holding(dir: string, kind: ArtifactKind, recognise?: (names: string[]) => boolean): Holding {
  if (!existsSync(dir)) return { kind: 'absent' };
  if (!statSync(dir).isDirectory()) throw new PipelineError('unsafe_output', `${dir} exists and is not a directory`, { file: dir, hint: 'choose another output path' });
  const names = withIo('list directory', dir, () => readdirSync(dir));
  if (names.length === 0) return { kind: 'empty' };
  const marker = readMarker(dir);
  const magic = manifestMagic(dir);
  if (marker === kind || magic === ARTIFACTS[kind].magic || recognise?.(names)) return { kind: 'ours' };
  const other = (Object.keys(ARTIFACTS) as ArtifactKind[]).find((k) => marker === k || magic === ARTIFACTS[k].magic);
  if (other) return { kind: 'other', stage: other };
  return { kind: 'foreign', names };
}

function refuseForeign(spec: ClaimSpec, h: Holding): void {
  const flag = spec.flag ?? '--out';
  const cmd = `hotcold ${spec.kind === 'checkpoint' ? 'train (checkpoints)' : spec.kind}`;
  const why = h.kind === 'other'
    ? `holds the output of hotcold ${(h as { stage: string }).stage}, not of ${cmd}`
    : `is not empty and was not written by ${cmd} (it holds ${listNames((h as { names: string[] }).names)})`;
  if (!spec.forceClean) {
    throw new PipelineError('unsafe_output', `${flag} ${spec.dir} ${why}; nothing was changed`, {
      hint: `choose another ${flag}, or pass --force-clean to replace everything in it`,
    });
  }
  const p = protectedReason(spec.dir);
  if (p) throw new PipelineError('unsafe_output', `${flag} ${spec.dir} ${why}, and --force-clean never cleans it: ${p}`, { hint: `choose another ${flag}` });
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

const stderrWarn = (m: string): void => {
  process.stderr.write(`hotcold: ${m}\n`);
};

/** A claimed in-place output directory (train runs, checkpoint dirs, sweeps). */
export interface DirClaim {
  /** absolute path */
  dir: string;
  lock: DirLock;
  /** true when the directory held this stage's earlier output (or was absent/empty: false) */
  existed: boolean;
  /** remove everything in the directory except the marker (a fresh start of the same stage) */
  clean(): void;
  release(): void;
}

/** What every claim does first: refuse `/` and overlaps with inputs, then take the lock (nothing else is written). */
function lockOutput(spec: ClaimSpec): { dir: string; lock: DirLock } {
  const flag = spec.flag ?? '--out';
  const dir = realResolve(spec.dir);
  if (dir === '/') throw new PipelineError('unsafe_output', `${flag} / is the filesystem root`, { hint: `choose another ${flag}` });
  checkNoOverlap([{ flag, path: spec.dir }], spec.inputs ?? []);
  withIo('create directory', dirname(dir), () => mkdirSync(dirname(dir), { recursive: true }));
  return { dir, lock: acquireLock(dir, spec.kind, spec.warn ?? stderrWarn) };
}

/**
 * Claim a directory that the stage writes in place: overlap check, lock, ownership
 * check, then the directory exists and holds the stage's marker.
 * @throws PipelineError `unsafe_output` | `locked`
 */
export function claimDir(spec: ClaimSpec): DirClaim {
  const { dir, lock } = lockOutput(spec);
  try {
    const h = holding(dir, spec.kind, spec.recognise);
    if (h.kind === 'other' || h.kind === 'foreign') refuseForeign(spec, h);
    const clean = (): void => {
      // the marker stays, and so do locks (of directories inside, held by this or another run)
      for (const name of readdirSync(dir)) {
        if (name !== OUTPUT_MARKER && !name.endsWith(LOCK_SUFFIX)) withIo('remove', join(dir, name), () => rmSync(join(dir, name), { recursive: true, force: true }));
      }
    };
    if (h.kind === 'other' || h.kind === 'foreign') clean(); // --force-clean, checked above
    withIo('create directory', dir, () => mkdirSync(dir, { recursive: true }));
    if (readMarker(dir) !== spec.kind) writeFileAtomicSync(join(dir, OUTPUT_MARKER), JSON.stringify({ stage: spec.kind, createdAt: new Date().toISOString() }) + '\n');
    return { dir, lock, existed: h.kind === 'ours', clean, release: () => lock.release() };
  } catch (e) {
    lock.release();
    throw ioError(e, 'prepare output directory', dir);
  }
}

/** A pure stage's output being built beside its final place. */
export interface StagedOutput<M extends ManifestBase> {
  /** where the stage writes (the staging directory), absolute */
  dir: string;
  /** where the committed output lives, absolute */
  final: string;
  /** the committed manifest when the output can be reused as is (then `dir` = `final`) */
  reused?: M;
  /** commit: write the manifest, swap the new output in, remove the old one; releases the lock */
  commit(manifest: M): void;
  /** remove the partial output and release the lock (after a failure) */
  abort(): void;
}

function siblings(final: string): { fresh: string; old: string } {
  const parent = dirname(final);
  const name = basename(final);
  return { fresh: join(parent, `.${name}.hotcold-new`), old: join(parent, `.${name}.hotcold-old`) };
}

/** Finish or undo a swap that a crash interrupted (under the lock). */
function recoverSwap(final: string): void {
  const { fresh, old } = siblings(final);
  if (!existsSync(final) && existsSync(fresh) && hasManifest(fresh)) renameSync(fresh, final);
  if (existsSync(old)) {
    if (existsSync(final)) rmSync(old, { recursive: true, force: true });
    else renameSync(old, final);
  }
  if (existsSync(fresh)) rmSync(fresh, { recursive: true, force: true });
  const inner = join(final, MOUNT_STAGING);
  if (existsSync(inner)) {
    if (hasManifest(inner)) commitInto(final, inner);
    else rmSync(inner, { recursive: true, force: true });
  }
}

/** Staging directory inside a final directory that is a mount point. */
const MOUNT_STAGING = '.hotcold-new';

/**
 * Claim a pure stage's output: reuse a committed output with the same
 * fingerprint, else build the new one in a staging directory that {@link StagedOutput.commit}
 * swaps in. The previous output stays intact until then.
 * @throws PipelineError `unsafe_output` | `locked` | `io`
 */
export function openStagedOutput<M extends ManifestBase>(spec: ClaimSpec, fingerprint: string, opts: { force?: boolean } = {}): StagedOutput<M> {
  const { dir: final, lock } = lockOutput(spec);
  const { fresh, old } = siblings(final);
  try {
    withIo('recover an interrupted commit', final, () => recoverSwap(final));
    if (!opts.force && hasManifest(final)) {
      try {
        const m = readManifest<M>(final, spec.kind);
        if (m.fingerprint === fingerprint) {
          lock.release();
          return { dir: final, final, reused: m, commit: () => undefined, abort: () => undefined };
        }
      } catch {
        // unreadable or another version: replaced below if it is ours
      }
    }
    const h = holding(final, spec.kind, spec.recognise);
    if (h.kind === 'other' || h.kind === 'foreign') refuseForeign(spec, h);
    // a mount point cannot be renamed: build inside it and move the entries at commit
    const mount = existsSync(final) && statSync(final).dev !== statSync(dirname(final)).dev;
    const dir = mount ? join(final, MOUNT_STAGING) : fresh;
    withIo('create directory', dir, () => {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
    });
    const abort = (): void => {
      rmSync(dir, { recursive: true, force: true });
      lock.release();
    };
    const commit = (manifest: M): void => {
      try {
        writeManifest(dir, manifest);
        if (mount) commitInto(final, dir);
        else {
          if (existsSync(final)) renameSync(final, old);
          renameSync(dir, final);
          fsyncDir(dirname(final));
          rmSync(old, { recursive: true, force: true });
        }
      } catch (e) {
        throw ioError(e, 'commit output', final);
      } finally {
        lock.release();
      }
    };
    return { dir, final, commit, abort };
  } catch (e) {
    lock.release();
    throw ioError(e, 'prepare output directory', final);
  }
}

/** Commit into a directory that cannot be renamed: uncommit, clear, move the staged entries up, manifest last. */
function commitInto(final: string, staged: string): void {
  rmSync(manifestPath(final), { force: true });
  const stagedName = basename(staged);
  for (const name of readdirSync(final)) if (name !== stagedName) rmSync(join(final, name), { recursive: true, force: true });
  for (const name of readdirSync(staged)) if (name !== 'manifest.json') renameSync(join(staged, name), join(final, name));
  renameSync(manifestPath(staged), manifestPath(final));
  rmSync(staged, { recursive: true, force: true });
  fsyncDir(final);
}
