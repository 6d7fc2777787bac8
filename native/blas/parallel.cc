// hotcold native kernels of a parallel worker's sparse step (stages/train/parallel/apply.ts), the
// twins of stages/train/parallel/route-kernels.ts (the test oracle; results bit-identical):
//
//   parRoute(emb, cats, n, F, d, hot, tables[27], rows, reverse[26]|null, owners[27]|null,
//            K, k, replica, tgtRow, ord, seg, keys) → hot lookups, or −(i + 1) for a bad id i
//   parApply(eg, ord, tgtRow, seg, sizes, B, K, k, cap, F, d, weights[27], accum[27], touched[27],
//            rows, hasHot, lr, eps, dirty|null, dirtyList|null, nDirty|null, out) → −1 or a bad index
//
// Tables 0..25 are the host tables, 26 the hot table. Random rows of big tables and of the reverse
// and owner maps miss every cache level, so both kernels prefetch a fixed distance ahead.
#include <napi.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "clones.h"
#include "napi-args.h"
#include "sparse-rows.h"


using namespace hc;  // NOLINT: the addon's own helpers

namespace {

constexpr int64_t kTargets = 27;
constexpr int64_t kHot = 26;
constexpr int64_t kAhead = 32;  // lookups: about one sample's rows ahead of the one being read

// shared.ts hashOwner: ((imul(r ^ imul(t + 1, 0x85ebca6b), 0x9e3779b1) >>> 16) % K
inline int32_t HashOwner(int64_t t, int32_t r, int64_t K) {
  const uint32_t x = static_cast<uint32_t>(r) ^ (static_cast<uint32_t>(t + 1) * 0x85ebca6bu);
  return static_cast<int32_t>(((x * 0x9e3779b1u) >> 16) % static_cast<uint32_t>(K));
}

// An array of n typed arrays (null entries allowed when `holes`; the whole list may be null when `nullable`).
template <typename T>
bool List(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* fn, const char* name, int64_t n,
          bool nullable, bool holes, std::vector<T*>* out, std::vector<int64_t>* lens) {
  out->clear();
  lens->clear();
  if (nullable && (info[i].IsNull() || info[i].IsUndefined())) return true;
  if (!info[i].IsArray()) return Fail(info.Env(), fn, std::string(name) + " is not an array");
  Napi::Array arr = info[i].As<Napi::Array>();
  if (static_cast<int64_t>(arr.Length()) < n) return Fail(info.Env(), fn, std::string(name) + " has fewer than " + std::to_string(n) + " entries");
  out->assign(static_cast<size_t>(n), nullptr);
  lens->assign(static_cast<size_t>(n), 0);
  for (int64_t f = 0; f < n; f++) {
    Napi::Value v = arr.Get(static_cast<uint32_t>(f));
    if (holes && (v.IsNull() || v.IsUndefined())) continue;
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      return Fail(info.Env(), fn, std::string(name) + "[" + std::to_string(f) + "] has the wrong array type");
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    (*out)[f] = reinterpret_cast<T*>(TypedData(ta));
    (*lens)[f] = static_cast<int64_t>(ta.ElementLength());
  }
  return true;
}

Napi::Value ParRoute(const Napi::CallbackInfo& info) {
  const char* fn = "parRoute";
  Napi::Env env = info.Env();
  if (info.Length() != 17) { Fail(env, fn, "expected 17 arguments"); return env.Undefined(); }
  int64_t s[3], kk[2];
  if (!Ints(info, 2, 3, fn, s) || !Ints(info, 10, 2, fn, kk)) return env.Undefined();
  const int64_t n = s[0], F = s[1], d = s[2], K = kk[0], k = kk[1];
  const bool hot = info[5].ToBoolean().Value();
  const bool replica = info[12].ToBoolean().Value();
  if (F != kTargets - 1 || K < 1 || k >= K) { Fail(env, fn, "F must be 26 and 0 ≤ k < K"); return env.Undefined(); }
  const int64_t nk = K * kTargets;
  View<float> emb;
  View<int32_t> cats, rows, tgtRow, ord, seg, keys;
  if (!Arg(info, 0, napi_float32_array, fn, "emb", n * d, &emb) || !Arg(info, 1, napi_int32_array, fn, "cats", n, &cats) ||
      !Arg(info, 7, napi_int32_array, fn, "rows", kTargets, &rows) || !Arg(info, 13, napi_int32_array, fn, "tgtRow", n, &tgtRow) ||
      !Arg(info, 14, napi_int32_array, fn, "ord", n, &ord) || !Arg(info, 15, napi_int32_array, fn, "seg", nk + 1, &seg) ||
      !Arg(info, 16, napi_int32_array, fn, "keys", n, &keys))
    return env.Undefined();
  std::vector<float*> tables;
  std::vector<int32_t*> reverse;
  std::vector<uint8_t*> owners;
  std::vector<int64_t> tl, rl, ol;
  if (!List(info, 6, napi_float32_array, fn, "tables", kTargets, false, false, &tables, &tl) ||
      !List(info, 8, napi_int32_array, fn, "reverse", F, true, false, &reverse, &rl) ||
      !List(info, 9, napi_uint8_array, fn, "owners", kTargets, true, false, &owners, &ol))
    return env.Undefined();
  const int32_t H = rows.data[kHot];
  for (int64_t t = 0; t < kTargets; t++) {
    if (tl[t] < static_cast<int64_t>(rows.data[t]) * d) { Fail(env, fn, "table " + std::to_string(t) + " is shorter than rows×d"); return env.Undefined(); }
    if (!owners.empty() && ol[t] < rows.data[t]) { Fail(env, fn, "owners " + std::to_string(t) + " is shorter than the table"); return env.Undefined(); }
    if (t < F && !reverse.empty() && rl[t] < rows.data[t]) { Fail(env, fn, "reverse " + std::to_string(t) + " is shorter than the table"); return env.Undefined(); }
  }
  // every id first: a bad batch leaves everything as the caller passed it (as the twin)
  for (int64_t i = 0; i < n; i++) {
    const int32_t id = cats.data[i];
    if (id < 0 || id >= rows.data[hot ? kHot : i % F]) return Napi::Number::New(env, -static_cast<double>(i + 1));
  }
  // targets: (t, r) per lookup; t parked in keys
  int32_t* key = keys.data;
  int32_t* tgt = tgtRow.data;
  const bool rev = !hot && !reverse.empty();
  for (int64_t i = 0; i < n; i++) {
    const int64_t f = i % F;
    if (rev && i + kAhead < n) __builtin_prefetch(reverse[(i + kAhead) % F] + cats.data[i + kAhead]);
    const int32_t id = cats.data[i];
    int32_t t = static_cast<int32_t>(f), r = id;
    if (hot) { t = kHot; } else if (rev) {
      const int32_t h = reverse[f][id];
      if (h >= 0) {
        if (h >= H) { Fail(env, fn, "a reverse map points past the hot table"); return env.Undefined(); }
        t = kHot;
        r = h;
      }
    }
    key[i] = t;
    tgt[i] = r;
  }
  // owners and rows; keys ← owner·27 + t
  std::vector<int32_t> cnt(static_cast<size_t>(nk), 0);
  int64_t hotLookups = 0;
  for (int64_t i = 0; i < n; i++) {
    if (i + kAhead < n) {
      const int32_t ta = key[i + kAhead];
      __builtin_prefetch(tables[ta] + static_cast<int64_t>(tgt[i + kAhead]) * d);
      if (!owners.empty()) __builtin_prefetch(owners[ta] + tgt[i + kAhead]);
    }
    const int32_t t = key[i];
    const int32_t r = tgt[i];
    int32_t o = -1;
    if (t == kHot) {
      hotLookups++;
      if (replica) o = static_cast<int32_t>(k);
    }
    if (o < 0) {
      const int32_t ow = owners.empty() ? 255 : owners[t][r];
      o = ow != 255 ? ow : HashOwner(t, r, K);
    }
    const int32_t kv = o * static_cast<int32_t>(kTargets) + t;
    key[i] = kv;
    cnt[kv]++;
    std::memcpy(emb.data + i * d, tables[t] + static_cast<int64_t>(r) * d, sizeof(float) * d);
  }
  int32_t acc = 0;
  for (int64_t kv = 0; kv < nk; kv++) {
    seg.data[kv] = acc;
    const int32_t c = cnt[kv];
    cnt[kv] = acc;
    acc += c;
  }
  seg.data[nk] = acc;
  for (int64_t i = 0; i < n; i++) ord.data[cnt[key[i]]++] = static_cast<int32_t>(i);
  return Napi::Number::New(env, static_cast<double>(hotLookups));
}

// acc[0..d) += float(g[c]·scale), as the twin's collect (a float32 store of the double product) then add
HC_CLONES
void AddScaledRow(float* __restrict acc, const float* __restrict g, double scale, int64_t d) {
  for (int64_t c = 0; c < d; c++) acc[c] = acc[c] + static_cast<float>(static_cast<double>(g[c]) * scale);
}

Napi::Value ParApply(const Napi::CallbackInfo& info) {
  const char* fn = "parApply";
  Napi::Env env = info.Env();
  if (info.Length() != 22) { Fail(env, fn, "expected 22 arguments"); return env.Undefined(); }
  int64_t s[6];
  if (!Ints(info, 5, 6, fn, s)) return env.Undefined();
  const int64_t B = s[0], K = s[1], k = s[2], cap = s[3], F = s[4], d = s[5];
  const bool hasHot = info[15].ToBoolean().Value();
  const double lr = info[16].As<Napi::Number>().DoubleValue();
  const double eps = info[17].As<Napi::Number>().DoubleValue();
  if (F != kTargets - 1 || K < 1 || k >= K || B < 1) { Fail(env, fn, "F must be 26, 0 ≤ k < K and B ≥ 1"); return env.Undefined(); }
  const int64_t nk = K * kTargets;
  const int64_t all = K * cap * F;
  View<float> eg;
  View<int32_t> ord, tgtRow, seg, sizes, rows;
  View<double> out;
  if (!Arg(info, 0, napi_float32_array, fn, "eg", all * d, &eg) || !Arg(info, 1, napi_int32_array, fn, "ord", all, &ord) ||
      !Arg(info, 2, napi_int32_array, fn, "tgtRow", all, &tgtRow) || !Arg(info, 3, napi_int32_array, fn, "seg", K * (nk + 1), &seg) ||
      !Arg(info, 4, napi_int32_array, fn, "sizes", K, &sizes) || !Arg(info, 14, napi_int32_array, fn, "rows", kTargets, &rows) ||
      !Arg(info, 21, napi_float64_array, fn, "out", 3, &out))
    return env.Undefined();
  std::vector<float*> weights, accum;
  std::vector<uint8_t*> touched;
  std::vector<int64_t> wl, al, tl;
  if (!List(info, 11, napi_float32_array, fn, "weights", kTargets, false, true, &weights, &wl) ||
      !List(info, 12, napi_float32_array, fn, "accum", kTargets, false, true, &accum, &al) ||
      !List(info, 13, napi_uint8_array, fn, "touched", kTargets, false, true, &touched, &tl))
    return env.Undefined();
  for (int64_t t = 0; t < kTargets; t++) {
    if (t == kHot && !hasHot) continue;
    const int64_t r = rows.data[t];
    if (!weights[t] || wl[t] < r * d || !touched[t] || tl[t] < (r + 7) / 8 || (accum[t] && al[t] < r)) {
      Fail(env, fn, "table " + std::to_string(t) + ": weights, touched or accum missing or shorter than its rows");
      return env.Undefined();
    }
  }
  View<uint8_t> dirty;
  View<int32_t> dirtyList, nDirty;
  const bool replica = !info[18].IsNull() && !info[18].IsUndefined();
  if (replica && (!Arg(info, 18, napi_uint8_array, fn, "dirty", rows.data[kHot], &dirty) ||
                  !Arg(info, 19, napi_int32_array, fn, "dirtyList", rows.data[kHot], &dirtyList) || !Arg(info, 20, napi_int32_array, fn, "nDirty", 1, &nDirty)))
    return env.Undefined();

  thread_local RowSums sc;  // one per worker thread

  double unique = 0, hotUnique = 0, remote = 0;
  for (int64_t t = 0; t < kTargets; t++) {
    if (t == kHot && !hasHot) continue;
    const int32_t rowsT = rows.data[t];
    int64_t collected = 0, bad = -1;
    sc.Begin(t == kHot ? all : K * cap, d);
    for (int64_t j = 0; j < K && bad < 0; j++) {
      const int64_t s0 = j * (nk + 1) + k * kTargets + t;
      const int32_t lo = seg.data[s0], hi = seg.data[s0 + 1];
      if (hi <= lo) continue;
      const int64_t base = j * cap * F;
      const double scale = static_cast<double>(sizes.data[j]) / static_cast<double>(B);
      for (int32_t p = lo; p < hi; p++, collected++) {
        const int32_t i = ord.data[base + p];
        const int32_t id = tgtRow.data[base + i];
        if (id < 0 || id >= rowsT) { bad = collected; break; }
        AddScaledRow(sc.Row(id), eg.data + (base + i) * d, scale, d);
      }
      if (j != k) remote += hi - lo;
    }
    sc.End();
    const int64_t n = sc.n;
    const int32_t* uniq = sc.uniq.data();
    if (bad >= 0) return Napi::Number::New(env, static_cast<double>(bad));
    if (n == 0) continue;
    if (t == kHot) hotUnique += static_cast<double>(n);
    else unique += static_cast<double>(n);
    if (accum[t]) AdagradRows(weights[t], accum[t], sc.acc.data(), uniq, n, d, lr, eps);
    else SgdRows(weights[t], sc.acc.data(), uniq, n, d, lr);
    uint8_t* tb = touched[t];
    for (int64_t i = 0; i < n; i++) tb[uniq[i] >> 3] |= static_cast<uint8_t>(1u << (uniq[i] & 7));
    if (t == kHot && replica) {
      int32_t m = nDirty.data[0];
      for (int64_t i = 0; i < n; i++) {
        const int32_t r = uniq[i];
        if (dirty.data[r] == 0) { dirty.data[r] = 1; dirtyList.data[m++] = r; }
      }
      nDirty.data[0] = m;
    }
  }
  out.data[0] = unique;
  out.data[1] = hotUnique;
  out.data[2] = remote;
  return Napi::Number::New(env, -1);
}

}  // namespace

// Called from blas.cc's Init through RegisterKernels: adds the parallel kernels to exports.kernels.
void RegisterParallelKernels(Napi::Env env, Napi::Object k) {
  k.Set("parRoute", Napi::Function::New(env, ParRoute, "parRoute"));
  k.Set("parApply", Napi::Function::New(env, ParApply, "parApply"));
}
