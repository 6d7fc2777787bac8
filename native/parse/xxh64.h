// XXH64 (xxHash, 64-bit variant, seed 0), written from the published algorithm description
// (xxHash specification, "XXH64 algorithm description"); streaming, so a file can be hashed
// chunk by chunk as it is read. Free of N-API (parse.cc wraps it). Its TypeScript twin is
// pipeline/xxh64.ts; `xxhsum -H1 FILE` prints the same value.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace hotcold {

constexpr uint64_t kP1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kP2 = 0xC2B2AE3D27D4EB4Full;
constexpr uint64_t kP3 = 0x165667B19E3779F9ull;
constexpr uint64_t kP4 = 0x85EBCA77C2B2AE63ull;
constexpr uint64_t kP5 = 0x27D4EB2F165667C5ull;

/** The streaming state; lives in caller memory (a JS Uint8Array of kXxh64StateBytes). */
struct Xxh64State {
  uint64_t acc[4];
  uint64_t total;    // bytes seen
  uint8_t mem[32];   // a partial stripe
  uint32_t memSize;  // bytes in mem
  uint32_t pad;
};
constexpr size_t kXxh64StateBytes = sizeof(Xxh64State);
static_assert(kXxh64StateBytes == 80, "state layout");

inline uint64_t Rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
inline uint64_t Read64(const uint8_t* p) { uint64_t x; std::memcpy(&x, p, 8); return x; }  // little endian host
inline uint32_t Read32(const uint8_t* p) { uint32_t x; std::memcpy(&x, p, 4); return x; }

inline uint64_t Round(uint64_t acc, uint64_t lane) {
  acc += lane * kP2;
  acc = Rotl(acc, 31);
  return acc * kP1;
}

inline uint64_t Merge(uint64_t acc, uint64_t v) {
  acc ^= Round(0, v);
  return acc * kP1 + kP4;
}

inline void Xxh64Init(Xxh64State* s) {
  std::memset(s, 0, sizeof(*s));
  s->acc[0] = kP1 + kP2;
  s->acc[1] = kP2;
  s->acc[2] = 0;
  s->acc[3] = 0 - kP1;
}

/** Whole 32-byte stripes of p[0, n); returns the bytes consumed (n rounded down to 32). */
inline size_t Stripes(uint64_t* acc, const uint8_t* p, size_t n) {
  uint64_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = Round(a0, Read64(p + i));
    a1 = Round(a1, Read64(p + i + 8));
    a2 = Round(a2, Read64(p + i + 16));
    a3 = Round(a3, Read64(p + i + 24));
  }
  acc[0] = a0; acc[1] = a1; acc[2] = a2; acc[3] = a3;
  return i;
}

inline void Xxh64Update(Xxh64State* s, const uint8_t* p, size_t n) {
  s->total += n;
  if (s->memSize + n < 32) {
    std::memcpy(s->mem + s->memSize, p, n);
    s->memSize += static_cast<uint32_t>(n);
    return;
  }
  if (s->memSize > 0) {
    const size_t fill = 32 - s->memSize;
    std::memcpy(s->mem + s->memSize, p, fill);
    Stripes(s->acc, s->mem, 32);
    p += fill;
    n -= fill;
    s->memSize = 0;
  }
  const size_t done = Stripes(s->acc, p, n);
  std::memcpy(s->mem, p + done, n - done);
  s->memSize = static_cast<uint32_t>(n - done);
}

inline uint64_t Xxh64Digest(const Xxh64State* s) {
  uint64_t h;
  if (s->total >= 32) {
    const uint64_t* a = s->acc;
    h = Rotl(a[0], 1) + Rotl(a[1], 7) + Rotl(a[2], 12) + Rotl(a[3], 18);
    for (int k = 0; k < 4; k++) h = Merge(h, a[k]);
  } else {
    h = kP5;  // seed 0
  }
  h += s->total;
  const uint8_t* p = s->mem;
  size_t n = s->memSize;
  for (; n >= 8; p += 8, n -= 8) {
    h ^= Round(0, Read64(p));
    h = Rotl(h, 27) * kP1 + kP4;
  }
  if (n >= 4) {
    h ^= static_cast<uint64_t>(Read32(p)) * kP1;
    h = Rotl(h, 23) * kP2 + kP3;
    p += 4;
    n -= 4;
  }
  for (; n > 0; p++, n--) {
    h ^= static_cast<uint64_t>(*p) * kP5;
    h = Rotl(h, 11) * kP1;
  }
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

}  // namespace hotcold
