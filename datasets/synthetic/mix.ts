/**
 * Integer hashing for the synthetic generator. The planted model never stores a
 * weight per value: a weight is a hash of (seed, feature, value rank, epoch), and a
 * value's 8-hex id is a keyed bijection of its rank, so ids look random but two
 * ranks of one feature never collide.
 */

/** murmur3's 32-bit finaliser: a bijection of uint32 with good avalanche. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hash of up to four integers (each taken mod 2^32), uint32. */
export function hash4(a: number, b: number, c: number, d: number): number {
  let h = fmix32((a ^ 0x9e3779b9) >>> 0);
  h = fmix32((h ^ Math.imul(b >>> 0, 0xcc9e2d51)) >>> 0);
  h = fmix32((h ^ Math.imul(c >>> 0, 0x1b873593)) >>> 0);
  return fmix32((h ^ Math.imul(d >>> 0, 0xe6546b64) ^ 0x5bd1e995) >>> 0);
}

/** Uniform in [0, 1) from a uint32 hash. */
export function hashUnit(h: number): number {
  return (h >>> 0) / 4294967296;
}

/**
 * Approximately standard normal from a uint32 hash: the centred sum of its four
 * bytes (Irwin–Hall of four, variance scaled to 1; range ±3.46).
 */
export function hashNormal(h: number): number {
  const s = (h & 255) + ((h >>> 8) & 255) + ((h >>> 16) & 255) + (h >>> 24);
  return (s - 510) / 147.80166;
}

/**
 * Keyed bijection of uint32 (used to turn a value rank into its 8-hex id).
 * @param x the rank, 0 ≤ x < 2^32
 * @param k0 first key word
 * @param k1 second key word
 */
export function permute32(x: number, k0: number, k1: number): number {
  x = (x ^ k0) >>> 0;
  x = Math.imul(x, 0x2c1b3c6d);
  x ^= x >>> 15;
  x = (Math.imul(x, 0x297a2d39) ^ k1) >>> 0;
  x ^= x >>> 12;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  return x >>> 0;
}
