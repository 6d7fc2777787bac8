// hotcold parse addon: the Criteo line splitter/parser and the categorify hash-table kernel,
// C++ twins of datasets/criteo/parse.ts (CriteoLineParser.parse) and
// datasets/criteo/id-table.ts (U32IndexTable.mapAndCount). Both stop short of anything
// unusual and hand it back to the TypeScript code, which stays the one place that knows
// about errors and growth:
//
//   parseLines(buf, pos, end, delim, label, dense, cats, present, cap, state[, skipFields, noLabel]) -> pos
//     Parses complete lines from buf[pos, end) (buf[end-1] must be '\n') into the batch
//     columns, from row state[0] on, until the range is used up, the batch is full, or a
//     malformed line starts: then it returns that line's start and sets state[3] = 1, and
//     the TS parser handles that one line (error or skip, same message as ever).
//     state (Int32Array): [rows, lines consumed, data lines, stopped at a bad line].
//     skipFields (0-7): leading fields dropped (Kaggle's CSV with an Id column); noLabel: lines
//     start at I1 (Kaggle's unlabelled test.txt) and label 0 is stored (version 2).
//
//     On a CPU with AVX2 the plain lines of a tab-separated file go through the vector line path of
//     criteo-parse-avx2.h (same output); parseLinesScalar (same arguments) never does, and `simd`
//     says which is used ("avx2" or "none").
//
//   mapAndCount(vals, present, base, n, out, outOff, firstId, keys, slots, counts, state) -> r
//     The id-table loop over rows [0, n); stops at the first row whose insertion would need
//     the counts array or the table to grow (the TS side grows and resumes).
//     state (Float64Array): [size, missing, mask, shift, limit].
//
//   logDense(src, base, n, lut, out, outOff, miss) -> count
//     ops/log-dense.ts's loop over rows [0, n) of one dense column: out[outOff + r] =
//     lut[x] for an integer x in [0, lut.length), 0 for x <= 0 or NaN; the rows of any
//     other value (positive: fraction or beyond the table) are listed in miss[0, count)
//     and left to the TS side, which computes Math.log1p (so every bit is V8's).
//
//   xxh64Init(state) / xxh64Update(state, data) / xxh64Digest(state) -> 16 hex digits   (version 3)
//     Streaming XXH64 (seed 0; xxh64.h) over a state held in a Uint8Array(80) of the caller's;
//     pipeline/xxh64.ts is its TypeScript twin.
//
//   writeDirect(fd, data[, state]) -> 0 | -errno
//     Writes data to fd (opened with O_DIRECT, empty) from offset 0 through a 4096-aligned bounce
//     buffer in 4 MiB requests, the last one zero-padded to the block, then truncates the file to
//     data.length; with a state, XXH64-updates it over the bytes while they are in cache. The
//     caller fsyncs. -errno: the failing write's or ftruncate's error (EINVAL: the filesystem does
//     not take direct I/O; the caller rewrites the file buffered).
//
//   mapFile(path, offset, length) -> Buffer | -errno   (version 4)
//     Bytes [offset, offset + length) of a regular file (cut at its end; offset a multiple of the
//     page size, length at most 2^30) mapped read-only (mmap PROT_READ, MAP_PRIVATE,
//     MADV_SEQUENTIAL) as an external Buffer, unmapped when that Buffer is collected: the reader
//     parses the page cache in place instead of copying it into its own buffers with read(2)
//     (≈ 0.15 CPU-s per 1M Criteo rows on this VM), one window at a time (a Buffer is at most
//     4 GiB in Node 20). -errno when open, fstat or mmap fails, EINVAL for a bad window or an
//     offset at or past the end (the caller reads instead).
//
//   adviseMapped(buf, offset, length, advice) -> 0 | -errno   (version 4)
//     madvise over the pages of [offset, offset + length) of a mapFile Buffer: advice 0 =
//     MADV_WILLNEED (start reading ahead), 1 = MADV_DONTNEED (drop this process's page-table
//     entries for a range it has parsed, so the mapping does not count towards its RSS; the pages
//     stay in the page cache and a later access maps them again). DONTNEED covers only whole pages
//     inside the range.
//
// Values are computed with the same double operations in the same order as the TS parser
// (built with -ffp-contract=off), so both produce the same bits.
#include <napi.h>

#include "criteo-parse.h"
#include "criteo-parse-avx2.h"
#include "xxh64.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <string>

namespace {

using hotcold::ParseLines;
using hotcold::InitHex;
constexpr int kIntFeatures = hotcold::kIntFeatures;
constexpr uint8_t LF = hotcold::LF;

template <typename T>
bool Typed(const Napi::Value& v, napi_typedarray_type type, T** data, size_t* len) {
  if (!v.IsTypedArray()) return false;
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  if (t.TypedArrayType() != type) return false;
  napi_typedarray_type ty;
  size_t length;
  void* p;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(v.Env(), v, &ty, &length, &p, &ab, &off) != napi_ok) return false;
  *data = static_cast<T*>(p);
  *len = length;
  return true;
}

Napi::Value Fail(Napi::Env env, const char* msg) {
  Napi::TypeError::New(env, std::string("hotcold parse addon: ") + msg).ThrowAsJavaScriptException();
  return env.Undefined();
}

bool HaveAvx2() {
#ifdef HOTCOLD_HAVE_AVX2_PATH
  static const bool have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                           __builtin_cpu_supports("popcnt");
  return have;
#else
  return false;
#endif
}

Napi::Value ParseLinesImpl(const Napi::CallbackInfo& info, bool vector) {
  Napi::Env env = info.Env();
  if (info.Length() != 10 && info.Length() != 12) return Fail(env, "parseLines expects 10 or 12 arguments");
  uint8_t* buf;
  size_t bufLen;
  int8_t* label;
  size_t labelLen;
  double* dense;
  size_t denseLen;
  uint32_t* cats;
  size_t catsLen;
  uint8_t* present;
  size_t presentLen;
  int32_t* state;
  size_t stateLen;
  if (!Typed(info[0], napi_uint8_array, &buf, &bufLen)) return Fail(env, "buf must be a Uint8Array");
  if (!Typed(info[4], napi_int8_array, &label, &labelLen)) return Fail(env, "label must be an Int8Array");
  if (!Typed(info[5], napi_float64_array, &dense, &denseLen)) return Fail(env, "dense must be a Float64Array");
  if (!Typed(info[6], napi_uint32_array, &cats, &catsLen)) return Fail(env, "cats must be a Uint32Array");
  if (!Typed(info[7], napi_uint8_array, &present, &presentLen)) return Fail(env, "present must be a Uint8Array");
  if (!Typed(info[9], napi_int32_array, &state, &stateLen) || stateLen < 4) return Fail(env, "state must be an Int32Array(4)");
  const int64_t pos = info[1].As<Napi::Number>().Int64Value();
  const int64_t end = info[2].As<Napi::Number>().Int64Value();
  const int64_t delim = info[3].As<Napi::Number>().Int64Value();
  const int64_t cap = info[8].As<Napi::Number>().Int64Value();
  if (pos < 0 || end < pos || static_cast<size_t>(end) > bufLen) return Fail(env, "range outside the buffer");
  if (end > pos && buf[end - 1] != LF) return Fail(env, "the range must end with a newline");
  if (cap <= 0 || labelLen < static_cast<size_t>(cap) || denseLen < static_cast<size_t>(kIntFeatures * cap) ||
      catsLen < static_cast<size_t>(26 * cap) || presentLen < static_cast<size_t>(26 * cap))
    return Fail(env, "batch columns shorter than the capacity");
  if (state[0] < 0 || state[0] > cap) return Fail(env, "state[0] (rows) outside [0, capacity]");
  if (delim != 9 && delim != 44) return Fail(env, "delimiter must be tab or comma");
  int64_t skipFields = 0;
  bool noLabel = false;
  if (info.Length() == 12) {
    skipFields = info[10].As<Napi::Number>().Int64Value();
    noLabel = info[11].ToBoolean().Value();
    if (skipFields < 0 || skipFields > 7) return Fail(env, "skipFields must be in [0, 7]");
  }
  if (pos == end) {
    state[1] = state[2] = state[3] = 0;
    return Napi::Number::New(env, static_cast<double>(pos));
  }
#ifdef HOTCOLD_HAVE_AVX2_PATH
  if (vector && HaveAvx2() && delim == 9 && skipFields == 0 && !noLabel) {
    const size_t p = hotcold::ParseLinesAvx2(buf, static_cast<size_t>(pos), static_cast<size_t>(end), static_cast<uint8_t>(delim), label,
                                             dense, cats, present, cap, state);
    return Napi::Number::New(env, static_cast<double>(p));
  }
#endif
  const size_t p = ParseLines(buf, static_cast<size_t>(pos), static_cast<size_t>(end), static_cast<uint8_t>(delim), label,
                              dense, cats, present, cap, state, static_cast<int>(skipFields), noLabel);
  return Napi::Number::New(env, static_cast<double>(p));
}

Napi::Value ParseLinesJs(const Napi::CallbackInfo& info) { return ParseLinesImpl(info, true); }
Napi::Value ParseLinesScalarJs(const Napi::CallbackInfo& info) { return ParseLinesImpl(info, false); }

constexpr uint32_t kGolden = 0x9e3779b1u;

Napi::Value MapAndCountJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) return Fail(env, "mapAndCount expects 11 arguments");
  uint32_t* vals;
  size_t valsLen;
  uint8_t* present;
  size_t presentLen;
  int32_t* out;
  size_t outLen;
  uint32_t* keys;
  size_t keysLen;
  int32_t* slots;
  size_t slotsLen;
  uint32_t* counts;
  size_t countsLen;
  double* state;
  size_t stateLen;
  if (!Typed(info[0], napi_uint32_array, &vals, &valsLen)) return Fail(env, "vals must be a Uint32Array");
  if (!Typed(info[1], napi_uint8_array, &present, &presentLen)) return Fail(env, "present must be a Uint8Array");
  if (!Typed(info[4], napi_int32_array, &out, &outLen)) return Fail(env, "out must be an Int32Array");
  if (!Typed(info[7], napi_uint32_array, &keys, &keysLen)) return Fail(env, "keys must be a Uint32Array");
  if (!Typed(info[8], napi_int32_array, &slots, &slotsLen)) return Fail(env, "slots must be an Int32Array");
  if (!Typed(info[9], napi_uint32_array, &counts, &countsLen)) return Fail(env, "counts must be a Uint32Array");
  if (!Typed(info[10], napi_float64_array, &state, &stateLen) || stateLen < 5) return Fail(env, "state must be a Float64Array(5)");
  const int64_t base = info[2].As<Napi::Number>().Int64Value();
  const int64_t n = info[3].As<Napi::Number>().Int64Value();
  const int64_t outOff = info[5].As<Napi::Number>().Int64Value();
  const int32_t firstId = info[6].As<Napi::Number>().Int32Value();
  if (base < 0 || n < 0 || static_cast<size_t>(base + n) > valsLen || static_cast<size_t>(base + n) > presentLen)
    return Fail(env, "rows outside vals/present");
  if (outOff < 0 || static_cast<size_t>(outOff + n) > outLen) return Fail(env, "rows outside out");
  int64_t size = static_cast<int64_t>(state[0]);
  int64_t missing = static_cast<int64_t>(state[1]);
  const uint32_t mask = static_cast<uint32_t>(state[2]);
  const int shift = static_cast<int>(state[3]);
  const int64_t limit = static_cast<int64_t>(state[4]);
  if (keysLen != slotsLen || static_cast<size_t>(mask) + 1 != slotsLen || (slotsLen & mask) != 0 || shift < 1 || shift > 31)
    return Fail(env, "table arrays do not match mask/shift");
  if (size < 0 || size > limit || limit >= static_cast<int64_t>(slotsLen)) return Fail(env, "table size outside [0, limit]");
  const uint32_t* v = vals + base;
  const uint8_t* pr = present + base;
  int32_t* o = out + outOff;
  int64_t r = 0;
  constexpr int64_t kAhead = 16;
  for (; r < n; r++) {
    if (r + kAhead < n) {
      const uint32_t h = (v[r + kAhead] * kGolden) >> shift;
      __builtin_prefetch(slots + h);
      __builtin_prefetch(keys + h);
    }
    if (pr[r] == 0) {
      o[r] = 0;
      missing++;
      continue;
    }
    const uint32_t key = v[r];
    uint32_t i = (key * kGolden) >> shift;
    int64_t idx = -1;
    for (;;) {
      const int32_t s = slots[i];
      if (s == 0) break;
      if (keys[i] == key) {
        idx = s - 1;
        break;
      }
      i = (i + 1) & mask;
    }
    if (idx < 0) {
      // a new key: hand back when it needs a bigger counts array or table
      if (size >= static_cast<int64_t>(countsLen) || size + 1 > limit) break;
      idx = size++;
      keys[i] = key;
      slots[i] = static_cast<int32_t>(idx + 1);
    }
    counts[idx]++;
    o[r] = firstId + static_cast<int32_t>(idx);
  }
  state[0] = static_cast<double>(size);
  state[1] = static_cast<double>(missing);
  return Napi::Number::New(env, static_cast<double>(r));
}

Napi::Value LogDenseJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 7) return Fail(env, "logDense expects 7 arguments");
  double* src;
  size_t srcLen;
  float* lut;
  size_t lutLen;
  float* out;
  size_t outLen;
  int32_t* miss;
  size_t missLen;
  if (!Typed(info[0], napi_float64_array, &src, &srcLen)) return Fail(env, "src must be a Float64Array");
  if (!Typed(info[3], napi_float32_array, &lut, &lutLen) || lutLen == 0 || lutLen > (1u << 30)) return Fail(env, "lut must be a non-empty Float32Array");
  if (!Typed(info[4], napi_float32_array, &out, &outLen)) return Fail(env, "out must be a Float32Array");
  if (!Typed(info[6], napi_int32_array, &miss, &missLen)) return Fail(env, "miss must be an Int32Array");
  const int64_t base = info[1].As<Napi::Number>().Int64Value();
  const int64_t n = info[2].As<Napi::Number>().Int64Value();
  const int64_t outOff = info[5].As<Napi::Number>().Int64Value();
  if (base < 0 || n < 0 || static_cast<size_t>(base + n) > srcLen) return Fail(env, "rows outside src");
  if (outOff < 0 || static_cast<size_t>(outOff + n) > outLen) return Fail(env, "rows outside out");
  if (missLen < static_cast<size_t>(n)) return Fail(env, "miss shorter than n");
  const double* x = src + base;
  float* o = out + outOff;
  const double lim = static_cast<double>(lutLen);
  int32_t count = 0;
  // branch-free: missing (NaN) and negative values are ~20 % of a column, in no pattern
  for (int64_t r = 0; r < n; r++) {
    const double v = x[r];
    const bool inRange = v >= 0 && v < lim;  // false for NaN
    const int32_t i = static_cast<int32_t>(inRange ? v : 0.0);
    const bool hit = inRange && static_cast<double>(i) == v;
    const bool zero = !(v > 0);  // NaN or <= 0 (0 itself is a hit: lut[0] = 0)
    o[r] = hit ? lut[i] : 0.0f;
    miss[count] = static_cast<int32_t>(r);
    count += (hit || zero) ? 0 : 1;
  }
  return Napi::Number::New(env, count);
}

bool StateArg(const Napi::Value& v, uint8_t** p) {
  size_t len;
  return Typed(v, napi_uint8_array, p, &len) && len == hotcold::kXxh64StateBytes;
}

Napi::Value Xxh64InitJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* st;
  if (info.Length() != 1 || !StateArg(info[0], &st)) return Fail(env, "xxh64Init expects a Uint8Array(80) state");
  hotcold::Xxh64State s;
  hotcold::Xxh64Init(&s);
  std::memcpy(st, &s, sizeof(s));  // the caller's bytes need not be 8-aligned
  return env.Undefined();
}

Napi::Value Xxh64UpdateJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* st;
  uint8_t* data;
  size_t len;
  if (info.Length() != 2 || !StateArg(info[0], &st)) return Fail(env, "xxh64Update expects a Uint8Array(80) state and a Uint8Array");
  if (!Typed(info[1], napi_uint8_array, &data, &len)) return Fail(env, "xxh64Update: data must be a Uint8Array");
  hotcold::Xxh64State s;
  std::memcpy(&s, st, sizeof(s));
  hotcold::Xxh64Update(&s, data, len);
  std::memcpy(st, &s, sizeof(s));
  return env.Undefined();
}

Napi::Value Xxh64DigestJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* st;
  if (info.Length() != 1 || !StateArg(info[0], &st)) return Fail(env, "xxh64Digest expects a Uint8Array(80) state");
  hotcold::Xxh64State s;
  std::memcpy(&s, st, sizeof(s));
  const uint64_t h = hotcold::Xxh64Digest(&s);
  char hex[17];
  for (int i = 0; i < 16; i++) hex[i] = "0123456789abcdef"[(h >> (60 - 4 * i)) & 15];
  hex[16] = 0;
  return Napi::String::New(env, hex, 16);
}

constexpr size_t kDirectAlign = 4096;
constexpr size_t kDirectChunk = 4u << 20;
constexpr size_t kHashStep = 256u << 10;  // copy + hash in L2-sized steps

Napi::Value WriteDirectJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t len;
  uint8_t* st = nullptr;
  if (info.Length() < 2 || !info[0].IsNumber() || !Typed(info[1], napi_uint8_array, &data, &len)) {
    return Fail(env, "writeDirect expects (fd, Uint8Array[, Uint8Array(80) state])");
  }
  if (info.Length() > 2 && !info[2].IsUndefined() && !StateArg(info[2], &st)) return Fail(env, "writeDirect: state must be a Uint8Array(80)");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  // one bounce buffer per thread, kept (its pages stay mapped)
  static thread_local uint8_t* bounce = nullptr;
  if (!bounce) {
    void* b = nullptr;
    if (posix_memalign(&b, kDirectAlign, kDirectChunk) != 0) return Napi::Number::New(env, -ENOMEM);
    bounce = static_cast<uint8_t*>(b);
  }
  hotcold::Xxh64State s;
  if (st) std::memcpy(&s, st, sizeof(s));
  for (size_t off = 0; off < len; off += kDirectChunk) {
    const size_t n = len - off < kDirectChunk ? len - off : kDirectChunk;
    for (size_t k = 0; k < n; k += kHashStep) {
      const size_t m = n - k < kHashStep ? n - k : kHashStep;
      std::memcpy(bounce + k, data + off + k, m);
      if (st) hotcold::Xxh64Update(&s, bounce + k, m);
    }
    const size_t wlen = (n + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memset(bounce + n, 0, wlen - n);
    for (size_t done = 0; done < wlen;) {
      const ssize_t w = pwrite(fd, bounce + done, wlen - done, static_cast<off_t>(off + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return Napi::Number::New(env, -errno);
      }
      if (w == 0) return Napi::Number::New(env, -EIO);
      done += static_cast<size_t>(w);
    }
  }
  if (len % kDirectAlign != 0) {
    while (ftruncate(fd, static_cast<off_t>(len)) != 0) {
      if (errno != EINTR) return Napi::Number::New(env, -errno);
    }
  }
  if (st) std::memcpy(st, &s, sizeof(s));
  return Napi::Number::New(env, 0);
}

// live mapFile mappings (start -> length): adviseMapped refuses any other memory (DONTNEED on a
// heap buffer would zero it)
std::mutex gMapsMu;
std::map<uintptr_t, size_t> gMaps;

bool InsideMapping(uintptr_t a, uintptr_t b) {
  std::lock_guard<std::mutex> lock(gMapsMu);
  auto it = gMaps.upper_bound(a);
  if (it == gMaps.begin()) return false;
  --it;
  return a >= it->first && b <= it->first + it->second;
}

Napi::Value MapFileJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber()) {
    return Fail(env, "mapFile expects (path, offset, length)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const int64_t offset = info[1].As<Napi::Number>().Int64Value();
  const int64_t want = info[2].As<Napi::Number>().Int64Value();
  const int64_t page = static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  if (offset < 0 || offset % page != 0 || want <= 0 || want > (int64_t{1} << 30)) return Napi::Number::New(env, -EINVAL);
  int fd;
  while ((fd = open(path.c_str(), O_RDONLY | O_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (fd < 0) return Napi::Number::New(env, -errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    return Napi::Number::New(env, -e);
  }
  if (!S_ISREG(st.st_mode) || offset >= static_cast<int64_t>(st.st_size)) {
    close(fd);
    return Napi::Number::New(env, -EINVAL);
  }
  const size_t len = static_cast<size_t>(std::min<int64_t>(want, static_cast<int64_t>(st.st_size) - offset));
  void* p = mmap(nullptr, len, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(offset));
  const int e = errno;
  close(fd);  // the mapping keeps the file
  if (p == MAP_FAILED) return Napi::Number::New(env, -e);
  madvise(p, len, MADV_SEQUENTIAL);
  {
    std::lock_guard<std::mutex> lock(gMapsMu);
    gMaps[reinterpret_cast<uintptr_t>(p)] = len;
  }
  auto* size = new size_t(len);
  return Napi::Buffer<uint8_t>::New(env, static_cast<uint8_t*>(p), len, [](Napi::Env, uint8_t* data, size_t* n) {
    {
      std::lock_guard<std::mutex> lock(gMapsMu);
      gMaps.erase(reinterpret_cast<uintptr_t>(data));
    }
    munmap(data, *n);
    delete n;
  }, size);
}

Napi::Value AdviseMappedJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint8_t* data;
  size_t len;
  if (info.Length() != 4 || !Typed(info[0], napi_uint8_array, &data, &len)) return Fail(env, "adviseMapped expects (Buffer, offset, length, advice)");
  const int64_t off = info[1].As<Napi::Number>().Int64Value();
  const int64_t n = info[2].As<Napi::Number>().Int64Value();
  const int64_t advice = info[3].As<Napi::Number>().Int64Value();
  if (off < 0 || n < 0 || static_cast<size_t>(off + n) > len) return Fail(env, "adviseMapped: range outside the buffer");
  if (advice != 0 && advice != 1) return Fail(env, "adviseMapped: advice must be 0 (willneed) or 1 (dontneed)");
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t a = reinterpret_cast<uintptr_t>(data) + static_cast<uintptr_t>(off);
  const uintptr_t b = a + static_cast<uintptr_t>(n);
  if (!InsideMapping(a, b)) return Fail(env, "adviseMapped: not a mapFile buffer");
  // willneed: the pages the range touches; dontneed: only the pages wholly inside it
  const uintptr_t lo = advice == 0 ? a & ~(page - 1) : (a + page - 1) & ~(page - 1);
  const uintptr_t hi = advice == 0 ? (b + page - 1) & ~(page - 1) : b & ~(page - 1);
  if (hi <= lo) return Napi::Number::New(env, 0);
  const int r = madvise(reinterpret_cast<void*>(lo), hi - lo, advice == 0 ? MADV_WILLNEED : MADV_DONTNEED);
  return Napi::Number::New(env, r == 0 ? 0 : -errno);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitHex();
  exports.Set("parseLines", Napi::Function::New(env, ParseLinesJs));
  exports.Set("parseLinesScalar", Napi::Function::New(env, ParseLinesScalarJs));
  exports.Set("simd", Napi::String::New(env, HaveAvx2() ? "avx2" : "none"));
  exports.Set("mapAndCount", Napi::Function::New(env, MapAndCountJs));
  exports.Set("logDense", Napi::Function::New(env, LogDenseJs));
  exports.Set("xxh64Init", Napi::Function::New(env, Xxh64InitJs));
  exports.Set("xxh64Update", Napi::Function::New(env, Xxh64UpdateJs));
  exports.Set("xxh64Digest", Napi::Function::New(env, Xxh64DigestJs));
  exports.Set("writeDirect", Napi::Function::New(env, WriteDirectJs));
  exports.Set("mapFile", Napi::Function::New(env, MapFileJs));
  exports.Set("adviseMapped", Napi::Function::New(env, AdviseMappedJs));
  exports.Set("version", Napi::Number::New(env, 4));
  return exports;
}

}  // namespace

NODE_API_MODULE(parse, Init)
