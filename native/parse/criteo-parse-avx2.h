// The AVX2 line path of the parse addon: for each line, the positions of its delimiters and of its
// newline are found 32 bytes at a time (byte compares → bitmasks), then the fields are decoded from
// their known bounds four at a time in one register (categoricals: hex digits validated and packed
// with maddubs + pshufb; integers: maddubs / madd / ×10000, then converted to double), no search for
// terminators and no per-byte branches. It takes only the plain shape — 40 tab-separated fields,
// '\n' endings, label 0/1, integers of ≤ 8 digits with an optional '-', categoricals of 0–8 hex
// digits — and hands any other line (and every line near the end of the range) to ParseLines, so
// the output is the same bytes (values are exact integers converted once, as the scalar path does).
// Chosen at run time (parse.cc: __builtin_cpu_supports("avx2")); free of N-API.
#pragma once
#if defined(__x86_64__) || defined(__i386__)
#define HOTCOLD_HAVE_AVX2_PATH 1
#include <immintrin.h>

#include "criteo-parse.h"

namespace hotcold {

/** A line longer than this takes the scalar path (the vector loads stay inside the range). */
constexpr size_t kFastLineMax = 1024;

#define HOTCOLD_AVX2 __attribute__((target("avx2,bmi,bmi2,popcnt,lzcnt")))

/**
 * One plain line at buf[p]: fills row r and returns the position after its '\n', or 0 when the
 * line is not of the plain shape (nothing of row r is then relied upon: the scalar path rewrites it).
 * Requires p + kFastLineMax + 32 <= end.
 */
HOTCOLD_AVX2 inline size_t FastLine(const uint8_t* buf, size_t p, uint8_t delim, int8_t* label, double* dense, uint32_t* cats,
                                    uint8_t* present, int64_t cap, int64_t r) {
  // delimiter positions (relative to p) of the line, then its newline
  uint32_t pos[kFields + 32];
  int k = 0;
  const __m256i vd = _mm256_set1_epi8(static_cast<char>(delim));
  const __m256i vl = _mm256_set1_epi8(static_cast<char>(LF));
  uint32_t nl = 0;
  for (uint32_t off = 0;; off += 32) {
    if (off >= kFastLineMax) return 0;
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(buf + p + off));
    uint32_t md = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vd)));
    const uint32_t ml = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, vl)));
    if (ml) md &= _blsmsk_u32(ml) >> 1;  // delimiters before the newline only
    // write the positions 8 at a time, unconditionally (the count is ≤ 8 in almost every block)
    const int cnt = _mm_popcnt_u32(md);
    if (k + cnt > kFields - 1) return 0;  // more than 40 fields
    uint32_t* out = pos + k;
    do {
      for (int i = 0; i < 8; i++) {
        out[i] = off + _tzcnt_u32(md);
        md = _blsr_u32(md);
      }
      out += 8;
    } while (md);
    k += cnt;
    if (ml) {
      nl = off + _tzcnt_u32(ml);
      break;
    }
  }
  if (k != kFields - 1) return 0;                  // fewer than 40 fields: the scalar path pads them
  if (nl > 0 && buf[p + nl - 1] == CR) return 0;  // "\r\n": the scalar path
  pos[k] = nl;
  const uint8_t* line = buf + p;
  // label: one byte, 0 or 1
  if (pos[0] != 1) return 0;
  const unsigned lab = static_cast<unsigned>(line[0]) - '0';
  if (lab > 1) return 0;
  label[r] = static_cast<int8_t>(lab);
  const double kNaN = std::numeric_limits<double>::quiet_NaN();
  // integers four at a time: sign stripped, digits to the top of a 64-bit lane with '0's below,
  // validated, then maddubs (×10) → madd (×100) → ×10000 into the lane's value (exact: ≤ 8 digits)
  int fd = 1;
  for (; fd + 4 <= kIntFeatures + 1; fd += 4) {
    // the lanes are built in registers (stored to a small array and reloaded as one vector, each
    // group stalled on store forwarding: ≈ 15 % of the line path in perf)
    long long x[4], lens[4], negs[4];
    for (int i = 0; i < 4; i++) {
      uint32_t s = pos[fd + i - 1] + 1;
      uint32_t len = pos[fd + i] - s;
      const uint32_t neg = line[s] == MINUS;  // len 0: line[s] is the delimiter
      s += neg;
      len -= neg;
      if (len > 8 || (neg && len == 0)) return 0;
      uint64_t xi;
      __builtin_memcpy(&xi, line + s, 8);
      x[i] = static_cast<long long>(xi);
      lens[i] = len;
      negs[i] = static_cast<long long>(neg) << 63;
    }
    const __m256i raw = _mm256_setr_epi64x(x[0], x[1], x[2], x[3]);
    const __m256i len64 = _mm256_setr_epi64x(lens[0], lens[1], lens[2], lens[3]);
    const __m256i sign = _mm256_setr_epi64x(negs[0], negs[1], negs[2], negs[3]);
    const __m256i bits = _mm256_slli_epi64(len64, 3);
    __m256i w = _mm256_sllv_epi64(raw, _mm256_sub_epi64(_mm256_set1_epi64x(64), bits));
    w = _mm256_or_si256(w, _mm256_srlv_epi64(_mm256_set1_epi64x(0x3030303030303030ll), bits));
    const __m256i dig = _mm256_and_si256(_mm256_cmpgt_epi8(w, _mm256_set1_epi8('0' - 1)), _mm256_cmpgt_epi8(_mm256_set1_epi8('9' + 1), w));
    if (static_cast<uint32_t>(_mm256_movemask_epi8(dig)) != 0xffffffffu) return 0;
    const __m256i d = _mm256_sub_epi8(w, _mm256_set1_epi8('0'));
    const __m256i p16 = _mm256_maddubs_epi16(d, _mm256_set1_epi16(0x010a));            // d0·10 + d1
    const __m256i p32 = _mm256_madd_epi16(p16, _mm256_set1_epi32(0x00010064));         // ·100 + next pair
    const __m256i v64 = _mm256_add_epi64(_mm256_mul_epu32(p32, _mm256_set1_epi64x(10000)), _mm256_srli_epi64(p32, 32));
    const __m128i v32 = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(v64, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
    __m256d v = _mm256_cvtepi32_pd(v32);
    v = _mm256_xor_pd(v, _mm256_castsi256_pd(sign));
    const __m256d missing = _mm256_castsi256_pd(_mm256_cmpeq_epi64(len64, _mm256_setzero_si256()));
    v = _mm256_blendv_pd(v, _mm256_set1_pd(std::numeric_limits<double>::quiet_NaN()), missing);
    double* o = dense + (fd - 1) * cap + r;
    _mm_storel_pd(o, _mm256_castpd256_pd128(v));
    _mm_storeh_pd(o + cap, _mm256_castpd256_pd128(v));
    _mm_storel_pd(o + 2 * cap, _mm256_extractf128_pd(v, 1));
    _mm_storeh_pd(o + 3 * cap, _mm256_extractf128_pd(v, 1));
  }
  for (int f = fd; f <= kIntFeatures; f++) {
    uint32_t s = pos[f - 1] + 1;
    int len = static_cast<int>(pos[f] - s);
    const bool neg = len > 0 && line[s] == MINUS;
    s += neg;
    len -= neg;
    int n;
    uint64_t iv;
    // all digits: the first non-digit of the word is the field's terminator
    if (!Digits8(line + s, &n, &iv) || n != len || (neg && len == 0)) return 0;
    const double v = static_cast<double>(iv);
    dense[(f - 1) * cap + r] = len == 0 ? kNaN : neg ? -v : v;
  }
  // the '0' digits that pad a short hex field to 8 (a field of len bytes sits in the high end)
  static constexpr uint64_t kPad[9] = {0x3030303030303030ull, 0x30303030303030ull, 0x303030303030ull, 0x3030303030ull,
                                       0x30303030ull,         0x303030ull,         0x3030ull,         0x30ull, 0};
  // categoricals four at a time: each field's (≤ 8) bytes to the top of a 64-bit lane with '0's
  // below, hex-decoded and validated in one register, the nibbles packed by maddubs + pshufb
  int f0 = kIntFeatures + 1;
  for (; f0 + 4 <= kFields; f0 += 4) {
    const __m128i ends = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pos + f0));
    const __m128i prev = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pos + f0 - 1));
    const __m128i len32 = _mm_sub_epi32(_mm_sub_epi32(ends, prev), _mm_set1_epi32(1));
    if (_mm_movemask_epi8(_mm_cmpgt_epi32(len32, _mm_set1_epi32(8)))) return 0;
    uint64_t x0, x1, x2, x3;
    __builtin_memcpy(&x0, line + pos[f0 - 1] + 1, 8);
    __builtin_memcpy(&x1, line + pos[f0] + 1, 8);
    __builtin_memcpy(&x2, line + pos[f0 + 1] + 1, 8);
    __builtin_memcpy(&x3, line + pos[f0 + 2] + 1, 8);
    const __m256i raw = _mm256_setr_epi64x(static_cast<long long>(x0), static_cast<long long>(x1), static_cast<long long>(x2), static_cast<long long>(x3));
    const __m256i len64 = _mm256_cvtepu32_epi64(len32);
    const __m256i bits = _mm256_slli_epi64(len64, 3);
    // len 0: shift by 64 gives 0 (all '0' then); len 8: the pad shifts out entirely
    __m256i w = _mm256_sllv_epi64(raw, _mm256_sub_epi64(_mm256_set1_epi64x(64), bits));
    w = _mm256_or_si256(w, _mm256_srlv_epi64(_mm256_set1_epi64x(0x3030303030303030ll), bits));
    const __m256i lower = _mm256_or_si256(w, _mm256_set1_epi8(0x20));
    const __m256i dig = _mm256_and_si256(_mm256_cmpgt_epi8(w, _mm256_set1_epi8('0' - 1)), _mm256_cmpgt_epi8(_mm256_set1_epi8('9' + 1), w));
    const __m256i alp = _mm256_and_si256(_mm256_cmpgt_epi8(lower, _mm256_set1_epi8('a' - 1)), _mm256_cmpgt_epi8(_mm256_set1_epi8('f' + 1), lower));
    if (static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_or_si256(dig, alp))) != 0xffffffffu) return 0;
    const __m256i nib = _mm256_add_epi8(_mm256_and_si256(w, _mm256_set1_epi8(0x0f)), _mm256_and_si256(alp, _mm256_set1_epi8(9)));
    const __m256i pairs = _mm256_maddubs_epi16(nib, _mm256_set1_epi16(0x0110));  // first digit × 16 + second
    const __m256i order = _mm256_setr_epi8(6, 4, 2, 0, 14, 12, 10, 8, -1, -1, -1, -1, -1, -1, -1, -1,
                                           6, 4, 2, 0, 14, 12, 10, 8, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i packed = _mm256_shuffle_epi8(pairs, order);
    const uint64_t v01 = static_cast<uint64_t>(_mm256_extract_epi64(packed, 0));
    const uint64_t v23 = static_cast<uint64_t>(_mm256_extract_epi64(packed, 2));
    const int64_t c = (f0 - 1 - kIntFeatures) * cap + r;
    cats[c] = static_cast<uint32_t>(v01);
    cats[c + cap] = static_cast<uint32_t>(v01 >> 32);
    cats[c + 2 * cap] = static_cast<uint32_t>(v23);
    cats[c + 3 * cap] = static_cast<uint32_t>(v23 >> 32);
    present[c] = pos[f0] != pos[f0 - 1] + 1;
    present[c + cap] = pos[f0 + 1] != pos[f0] + 1;
    present[c + 2 * cap] = pos[f0 + 2] != pos[f0 + 1] + 1;
    present[c + 3 * cap] = pos[f0 + 3] != pos[f0 + 2] + 1;
  }
  for (int f = f0; f < kFields; f++) {
    const uint32_t s = pos[f - 1] + 1;
    const uint32_t len = pos[f] - s;
    if (len > 8) return 0;
    uint64_t x;
    __builtin_memcpy(&x, line + s, 8);
    // the field's bytes to the top of the word, '0's below (len 0: all '0', value 0)
    const uint64_t shifted = len == 0 ? 0 : x << (8 * (8 - len));
    uint32_t v;
    uint64_t w = shifted | kPad[len];
    uint8_t tmp[8];
    __builtin_memcpy(tmp, &w, 8);
    if (!Hex8(tmp, &v)) return 0;
    const int64_t c = (f - 1 - kIntFeatures) * cap + r;
    cats[c] = v;
    present[c] = len != 0;
  }
  return p + nl + 1;
}

/** ParseLines with the AVX2 line path; same contract and output. */
HOTCOLD_AVX2 inline size_t ParseLinesAvx2(const uint8_t* buf, size_t pos, size_t end, uint8_t delim, int8_t* label, double* dense,
                                          uint32_t* cats, uint8_t* present, int64_t cap, int32_t* state) {
  int64_t rows = state[0];
  int32_t lines = 0, dataLines = 0;
  size_t p = pos;
  while (rows < cap && p + kFastLineMax + 32 <= end) {
    const size_t q = FastLine(buf, p, delim, label, dense, cats, present, cap, rows);
    if (q == 0) {
      // one line (or a blank one, or a bad one) through the scalar loop
      int32_t st[4] = {static_cast<int32_t>(rows), 0, 0, 0};
      const size_t lineEnd = p + 1 + static_cast<size_t>(static_cast<const uint8_t*>(__builtin_memchr(buf + p, LF, end - p)) - (buf + p));
      const size_t np = ParseLines(buf, p, lineEnd, delim, label, dense, cats, present, cap, st);
      lines += st[1];
      dataLines += st[2];
      rows = st[0];
      if (st[3]) {  // a bad line: the TS parser takes it
        state[0] = static_cast<int32_t>(rows);
        state[1] = lines;
        state[2] = dataLines;
        state[3] = 1;
        return np;
      }
      p = np;
      continue;
    }
    p = q;
    rows++;
    lines++;
    dataLines++;
  }
  // the rest of the range (its last lines, or a full batch: returns at once) through the scalar loop
  int32_t st[4] = {static_cast<int32_t>(rows), 0, 0, 0};
  const size_t np = p < end && rows < cap ? ParseLines(buf, p, end, delim, label, dense, cats, present, cap, st) : p;
  state[0] = st[0];
  state[1] = lines + st[1];
  state[2] = dataLines + st[2];
  state[3] = st[3];
  return np;
}

}  // namespace hotcold
#endif  // x86
