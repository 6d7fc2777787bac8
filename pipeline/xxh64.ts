/**
 * XXH64 (xxHash's 64-bit variant, seed 0): the content checksum of preprocess
 * shards and inputs (`hash: "xxh64:<16 hex>"` in a manifest). A non-cryptographic
 * hash: it detects accidental change (bit rot, truncation, a partial copy) but does
 * not resist deliberate tampering — nor did the sha256 it replaces there, since the
 * manifest that holds the checksums is not signed. `xxhsum -H1 FILE` prints the same
 * value.
 *
 * Streaming, so a file is hashed chunk by chunk as it is read. The C++ kernel of the
 * parse addon (`native/parse/xxh64.h`, ≈ 10 GB/s) is used when it loads; otherwise
 * (addon not built, or `HOTCOLD_HASH=ts`) this file's TypeScript twin (written from
 * the published algorithm with 32-bit halves; a few hundred MB/s), same result.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { packagePath } from './package-root.js';

/** The algorithm name written before the hex digits. */
export const XXH64 = 'xxh64';

/** A streaming hash: feed bytes, then read the digest once. */
export interface StreamHash {
  update(data: Uint8Array): void;
  /** `xxh64:` and 16 lowercase hex digits */
  digest(): string;
}

/** The addon's XXH64 functions (native/parse/parse.cc, version ≥ 3). */
export interface Xxh64Addon {
  xxh64Init(state: Uint8Array): void;
  xxh64Update(state: Uint8Array, data: Uint8Array): void;
  xxh64Digest(state: Uint8Array): string;
}

/** Bytes of the addon's state. */
const NATIVE_STATE_BYTES = 80;

let nativeCache: Xxh64Addon | null | undefined;

/** Where the parse addon is (same rule as datasets/criteo/native.ts). */
export function parseAddonFile(): string {
  const override = process.env.HOTCOLD_PARSE_ADDON;
  return override ? path.resolve(override) : packagePath('native', 'parse', 'build', 'Release', 'parse.node');
}

/** The addon's XXH64, or null when it is not built, too old, or `HOTCOLD_HASH=ts`. Never throws. */
export function nativeXxh64(): Xxh64Addon | null {
  if (process.env.HOTCOLD_HASH === 'ts') return null;
  if (nativeCache !== undefined) return nativeCache;
  try {
    const mod = createRequire(import.meta.url)(parseAddonFile()) as Partial<Xxh64Addon>;
    nativeCache = typeof mod.xxh64Update === 'function' && typeof mod.xxh64Init === 'function' && typeof mod.xxh64Digest === 'function' ? (mod as Xxh64Addon) : null;
  } catch {
    nativeCache = null;
  }
  return nativeCache;
}

/** A new XXH64 stream: native when available, else {@link Xxh64Ts}. */
export function createXxh64(): StreamHash {
  const addon = nativeXxh64();
  if (!addon) return new Xxh64Ts();
  const state = new Uint8Array(NATIVE_STATE_BYTES);
  addon.xxh64Init(state);
  return {
    update: (data) => addon.xxh64Update(state, data),
    digest: () => `${XXH64}:${addon.xxh64Digest(state)}`,
  };
}

/** `xxh64:<hex>` of a byte buffer. */
export function xxh64(data: Uint8Array): string {
  const h = createXxh64();
  h.update(data);
  return h.digest();
}

/** `xxh64:<hex>` of a file, streamed. */
export async function xxh64File(file: string): Promise<string> {
  const h = createXxh64();
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 22 })) h.update(chunk as Buffer);
  return h.digest();
}

// ---- the TypeScript twin: BigInt arithmetic kept to 64 bits (BigInt.asUintN(64, …), which V8's
// optimising compiler lowers to plain 64-bit integer operations: ≈ 0.8–1 GB/s once warm) ----

const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;
const u64 = (x: bigint): bigint => BigInt.asUintN(64, x);
const rotl = (x: bigint, r: bigint): bigint => u64((x << r) | (x >> (64n - r)));
/** round(acc, lane) = rotl(acc + lane · P2, 31) · P1 (constant shifts: the compiler lowers those) */
function round(acc: bigint, lane: bigint): bigint {
  const x = BigInt.asUintN(64, acc + BigInt.asUintN(64, lane * P2));
  return BigInt.asUintN(64, BigInt.asUintN(64, (x << 31n) | (x >> 33n)) * P1);
}

/** Bytes per aligned scratch copy (the input may start at any byte; lanes are read as aligned words). */
const SCRATCH_BYTES = 1 << 16;

/** XXH64 in TypeScript (the fallback and the test oracle of the native kernel). */
export class Xxh64Ts implements StreamHash {
  private a0 = u64(P1 + P2);
  private a1 = P2;
  private a2 = 0n;
  private a3 = u64(-P1);
  private total = 0;
  private readonly scratch = new BigUint64Array(SCRATCH_BYTES / 8);
  private readonly scratchBytes = new Uint8Array(this.scratch.buffer);
  /** a partial stripe, in scratchBytes[0, memSize) */
  private memSize = 0;

  update(data: Uint8Array): void {
    this.total += data.length;
    let p = 0;
    while (p < data.length) {
      // append to the partial stripe in the scratch, hash its whole stripes, keep the rest
      const k = Math.min(data.length - p, SCRATCH_BYTES - this.memSize);
      this.scratchBytes.set(data.subarray(p, p + k), this.memSize);
      p += k;
      const n = this.memSize + k;
      const whole = n & ~31;
      this.stripes(whole >> 3);
      if (whole < n) this.scratchBytes.copyWithin(0, whole, n);
      this.memSize = n - whole;
    }
  }

  /** The first `words` (a multiple of 4) words of the scratch as stripes. */
  private stripes(words: number): void {
    const w = this.scratch;
    let a0 = this.a0, a1 = this.a1, a2 = this.a2, a3 = this.a3;
    for (let i = 0; i < words; i += 4) {
      a0 = round(a0, w[i]!);
      a1 = round(a1, w[i + 1]!);
      a2 = round(a2, w[i + 2]!);
      a3 = round(a3, w[i + 3]!);
    }
    this.a0 = a0; this.a1 = a1; this.a2 = a2; this.a3 = a3;
  }

  digest(): string {
    let h: bigint;
    if (this.total >= 32) {
      const { a0, a1, a2, a3 } = this;
      h = u64(rotl(a0, 1n) + rotl(a1, 7n) + rotl(a2, 12n) + rotl(a3, 18n));
      for (const v of [a0, a1, a2, a3]) h = u64((h ^ round(0n, v)) * P1 + P4);
    } else {
      h = P5; // seed 0
    }
    h = u64(h + BigInt(this.total));
    const m = this.scratchBytes;
    const dv = new DataView(m.buffer);
    let p = 0;
    let n = this.memSize;
    for (; n >= 8; p += 8, n -= 8) h = u64(rotl(h ^ round(0n, dv.getBigUint64(p, true)), 27n) * P1 + P4);
    if (n >= 4) {
      h = u64(rotl(h ^ u64(BigInt(dv.getUint32(p, true)) * P1), 23n) * P2 + P3);
      p += 4;
      n -= 4;
    }
    for (; n > 0; p++, n--) h = u64(rotl(h ^ u64(BigInt(m[p]!) * P5), 11n) * P1);
    h ^= h >> 33n;
    h = u64(h * P2);
    h ^= h >> 29n;
    h = u64(h * P3);
    h ^= h >> 32n;
    return `${XXH64}:${h.toString(16).padStart(16, '0')}`;
  }
}
