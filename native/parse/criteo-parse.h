// The Criteo line loop of the parse addon, free of N-API (so a C++ harness can time it).
// See parse.cc for the contract.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>

namespace hotcold {

constexpr int kIntFeatures = 13;
constexpr int kFields = 40;
constexpr uint8_t LF = 10, CR = 13, MINUS = 45, DOT = 46;

// hex digit value per byte, -1 for non-hex (internal linkage: no GOT load in the loop)
struct HexTable {
  int8_t v[256];
  constexpr HexTable() : v() {
    for (int i = 0; i < 256; i++) v[i] = -1;
    for (int i = 0; i < 10; i++) v['0' + i] = static_cast<int8_t>(i);
    for (int i = 0; i < 6; i++) {
      v['A' + i] = static_cast<int8_t>(10 + i);
      v['a' + i] = static_cast<int8_t>(10 + i);
    }
  }
};
static constexpr HexTable kHex{};
#define HEX kHex.v

inline void InitHex() {}

// Eight bytes, first digit at the lowest address: true and *out = their value when all are
// hex digits (either case). SWAR: no table lookups, no per-byte branches.
inline bool Hex8(const uint8_t* p, uint32_t* out) {
  uint64_t x;
  __builtin_memcpy(&x, p, 8);
  constexpr uint64_t ones = 0x0101010101010101ull;
  constexpr uint64_t high = 0x8080808080808080ull;
  const uint64_t lower = x | (0x20 * ones);  // 'A'-'F' → 'a'-'f'; digits keep their codes
  // byte in [lo, hi] (bytes < 0x80): the high bit of (b + 0x7f - hi) is clear and of (b + 0x80 - lo) set
  auto in = [&](uint64_t b, uint64_t lo, uint64_t hi) {
    return ~(b + (0x7f - hi) * ones) & (b + (0x80 - lo) * ones) & high;
  };
  const uint64_t digit = in(x & ~high, '0', '9');
  const uint64_t alpha = in(lower & ~high, 'a', 'f');
  if (((digit | alpha) & ~x & high) != high) return false;  // a byte ≥ 0x80 or not hex
  // nibble per byte: digits c & 15; letters (c & 15) + 9
  uint64_t n = (x & (15 * ones)) + ((alpha >> 7) * 9);
  // pack: byte pairs → n0<<4 | n1, then gather the four bytes; the first digit is most significant
  n = ((n & 0x000F000F000F000Full) << 4) | ((n & 0x0F000F000F000F00ull) >> 8);
  n = (n | (n >> 8)) & 0x0000FFFF0000FFFFull;
  n = (n | (n >> 16)) & 0xFFFFFFFFull;
  *out = __builtin_bswap32(static_cast<uint32_t>(n));
  return true;
}

inline bool IsDigit(uint8_t c) { return static_cast<unsigned>(c - 48) <= 9; }

// Up to 7 decimal digits followed by a field terminator, read as one 8-byte word:
// *len = number of leading digits (0..8), *value = their integer value (exact, so the
// same double the digit-by-digit loop builds). Returns false when no non-digit byte
// lies within the word (8 digits or more: the caller's loop takes it).
inline bool Digits8(const uint8_t* p, int* len, uint64_t* value) {
  uint64_t x;
  __builtin_memcpy(&x, p, 8);
  constexpr uint64_t ones = 0x0101010101010101ull;
  constexpr uint64_t high = 0x8080808080808080ull;
  const uint64_t b = x & ~high;
  const uint64_t digit = ~(b + (0x7f - '9') * ones) & (b + (0x80 - '0') * ones) & ~x & high;
  const uint64_t other = ~digit & high;
  if (other == 0) return false;
  const int n = __builtin_ctzll(other) >> 3;
  *len = n;
  if (n == 0) {
    *value = 0;
    return true;
  }
  // the n digits to the high end (leading zeros below), then the classic SWAR reduction
  uint64_t d = (x - 0x30 * ones) << (8 * (8 - n));
  d = (d * 10 + (d >> 8)) & 0x00FF00FF00FF00FFull;
  d = (d * 100 + (d >> 16)) & 0x0000FFFF0000FFFFull;
  d = (d * 10000 + (d >> 32)) & 0xFFFFFFFFull;
  *value = d;
  return true;
}

// One pass over lines; returns the position after the last line consumed.
// skipFields: leading fields dropped from every line (1 for Kaggle's CSV with an Id column);
// noLabel: lines start at I1 (Kaggle's unlabelled test.txt), label 0 is stored.
inline size_t ParseLines(const uint8_t* buf, size_t pos, size_t end, uint8_t delim, int8_t* label, double* dense,
                  uint32_t* cats, uint8_t* present, int64_t cap, int32_t* state, int skipFields = 0, bool noLabel = false) {
  int64_t rows = state[0];
  int32_t lines = 0, dataLines = 0;
  state[3] = 0;
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  size_t p = pos;
  while (p < end && rows < cap) {
    const size_t lineStart = p;
    uint8_t c = buf[p];
    if (c == LF || (c == CR && buf[p + 1] == LF)) {
      p += c == CR ? 2 : 1;
      lines++;
      continue;
    }
    for (int k = skipFields; k > 0; k--) {
      while (buf[p] != delim && buf[p] != LF) p++;
      if (buf[p] == delim) p++;
    }
    const int64_t r = rows;
    int field = 0;
    if (noLabel) {
      label[r] = 0;
      field = 1;
    }
    bool bad = false;
    for (;;) {
      if (field <= kIntFeatures) {
        const size_t fstart = p;
        // fast path: 0-7 plain digits and a terminator, one word, no per-digit branches
        if (p + 8 <= end) {
          int n;
          uint64_t iv;
          if (Digits8(buf + p, &n, &iv)) {
            c = buf[p + n];
            if (c == delim || c == LF || (c == CR && buf[p + n + 1] == LF)) {
              p += n;
              if (field == 0) {
                if (n == 0 || iv > 1) { bad = true; break; }
                label[r] = static_cast<int8_t>(iv);
              } else {
                dense[(field - 1) * cap + r] = n == 0 ? kNaN : static_cast<double>(iv);
              }
              goto terminated_field;
            }
          }
        }
        bool neg = false;
        if (buf[p] == MINUS) {
          neg = true;
          p++;
        }
        double v = 0;
        int nd = 0;
        while (IsDigit(buf[p])) {
          v = v * 10 + (buf[p] - 48);
          nd++;
          p++;
        }
        if (buf[p] == DOT) {
          p++;
          double scale = 0.1;
          while (IsDigit(buf[p])) {
            v += (buf[p] - 48) * scale;
            scale *= 0.1;
            nd++;
            p++;
          }
        }
        c = buf[p];
        const bool terminated = c == delim || c == LF || (c == CR && buf[p + 1] == LF);
        if (field == 0) {
          if (!terminated || nd == 0 || neg || (v != 0 && v != 1)) { bad = true; break; }
          label[r] = static_cast<int8_t>(v);
        } else {
          if (!terminated || (nd == 0 && p != fstart)) { bad = true; break; }
          dense[(field - 1) * cap + r] = nd == 0 ? kNaN : neg ? -v : v;
        }
      } else if (field < kFields) {
        uint32_t v = 0;
        int nd = 0;
        // fast path for exactly 8 digits, terminator at +8 (p + 8 >= end: the line's '\n' lies
        // within the 8 bytes, so the slow loop gives the same answer without reading past end)
        bool eight = false;
        const uint8_t t8 = p + 8 < end ? buf[p + 8] : 0;
        if ((t8 == delim || t8 == LF || t8 == CR) && Hex8(buf + p, &v)) eight = true;
        if (eight) {
          nd = 8;
          p += 8;
        } else {
          for (;;) {
            const int d = HEX[buf[p]];
            if (d < 0) break;
            v = (v << 4) | static_cast<uint32_t>(d);
            nd++;
            p++;
          }
        }
        c = buf[p];
        const bool terminated = c == delim || c == LF || (c == CR && buf[p + 1] == LF);
        if (!terminated || nd > 8) { bad = true; break; }
        const int64_t k = (field - 1 - kIntFeatures) * cap + r;
        cats[k] = v;
        present[k] = nd == 0 ? 0 : 1;
      } else {
        bad = true;
        break;
      }
    terminated_field:
      if (c == delim) {
        p++;
        field++;
        continue;
      }
      break;
    }
    if (bad) {
      // the TS parser takes this line (error or skip, with its message)
      state[3] = 1;
      p = lineStart;
      break;
    }
    for (int f = field + 1; f < kFields; f++) {
      if (f <= kIntFeatures) dense[(f - 1) * cap + r] = kNaN;
      else present[(f - 1 - kIntFeatures) * cap + r] = 0;
    }
    if (c == CR) p++;
    p++;
    rows = r + 1;
    lines++;
    dataLines++;
  }
  state[0] = static_cast<int32_t>(rows);
  state[1] = lines;
  state[2] = dataLines;
  return p;
}


}  // namespace hotcold
