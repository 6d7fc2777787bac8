// hotcold native kernels: the DLRM operations around the GEMMs, each the twin of a TypeScript
// function that stays the test oracle (stages/train/engine/kernels.ts names them).
//
//   interactionForward(out, tcache, bot, emb, B, F, d)          model/interaction.ts
//   interactionBackward(dbot, demb, dout, tcache, B, F, d)      model/interaction.ts
//   gather(out, tables[], rows Int32Array, cats, B, F, d)        model/sparse-kernels.ts
//   scatterTable(w, accum|null, touched, rows, d, cols, nc, F, cats, B, grad, lr, eps)
//   biasRelu(out, bias, B, O, relu)                              model/layers.ts
//   reluBackward(doutBits, outBits, n)                           model/layers.ts
//   biasGrad(dbias, dout, B, O)                                  model/layers.ts
//
// Same arithmetic as the TypeScript twins: JS computes in float64 and rounds to float32 on
// every store into a Float32Array, so the kernels accumulate in double in the same order and
// round where JS stores. Products of two floats are exact in double, so the results are
// bit-identical to the TypeScript d = 16 kernels (tests check that). Floating-point
// contraction is off (-ffp-contract=off) so lr·g − w is not fused where JS rounds twice.
//
// Vectorisation: the loops run over the independent axis (pairs j in the forward, the 16
// components in the backward, rows in the updates), so the compiler vectorises them without
// reordering any sum. The interaction sums use fma(a, b, acc): a·b of two floats is exact in
// double, so fma rounds exactly as JS's a·b + acc does. Each hot function is built three times
// (x86-64-v4 = AVX-512, x86-64-v3 = AVX2 + FMA, baseline x86-64) with GCC's target_clones; the
// loader picks one per CPU at load time (ifunc). -DHC_NO_CLONES builds the baseline only (to test it).
#include <napi.h>

#include "clones.h"
#include "napi-args.h"
#include "sparse-rows.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>


using namespace hc;  // NOLINT: the addon's own helpers

namespace {

// ---- dot interaction ----------------------------------------------------------------------

// One sample's pairs, any d: out[p..] = Z_ij = Σ_k T_ik T_jk for i > j in DLRM's order (1,0), (2,0),
// (2,1), …, vectorised over j with T transposed into doubles; sums run 0 + k = 0, 1, … as the any-d twin.
HC_CLONES
void PairsOne(float* __restrict out, const float* __restrict T, double* __restrict Tt, double* __restrict acc,
              int64_t V, int64_t d) {
  for (int64_t k = 0; k < d; k++)
    for (int64_t j = 0; j < V; j++) Tt[k * V + j] = static_cast<double>(T[j * d + k]);
  int64_t p = 0;
  for (int64_t i = 1; i < V; i++) {
    const float* ti = T + i * d;
    const double a0 = ti[0];
    for (int64_t j = 0; j < i; j++) acc[j] = 0.0 + a0 * Tt[j];  // exact: a float times a float fits a double
    for (int64_t k = 1; k < d; k++) {
      const double a = ti[k];
      const double* tk = Tt + k * V;
      for (int64_t j = 0; j < i; j++) acc[j] = std::fma(a, tk[j], acc[j]);  // = a·t + acc: the product is exact
    }
    for (int64_t j = 0; j < i; j++) out[p + j] = static_cast<float>(acc[j]);
    p += i;
  }
}

// Four doubles in one vector register (GCC vector extension: AVX/AVX-512 ymm in the v3/v4 clones,
// two SSE2 halves in the baseline one); unaligned loads through memcpy.
typedef double V4d __attribute__((vector_size(32)));
inline V4d LoadV4(const double* p) {
  V4d v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline V4d Splat(double x) { return V4d{x, x, x, x}; }

// The one place contraction is allowed: acc + a·t with a·t exact in double, so the fused
// multiply-add rounds exactly as the separate multiply and add of the twin.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast")
// PairsOne for d = 16, register-blocked: T transposed into doubles padded to whole blocks of 4 j,
// then per row i and block of 4 j the 16 products accumulate in one vector register. Same sums in
// the same order as the d = 16 twin.
HC_CLONES
void PairsOne16(float* __restrict out, const float* __restrict T, double* __restrict Tt, int64_t V) {
  const int64_t Vp = (V + 3) & ~int64_t{3};
  for (int64_t k = 0; k < 16; k++) {
    for (int64_t j = 0; j < V; j++) Tt[k * Vp + j] = static_cast<double>(T[j * 16 + k]);
    for (int64_t j = V; j < Vp; j++) Tt[k * Vp + j] = 0.0;
  }
  int64_t p = 0;
  for (int64_t i = 1; i < V; i++) {
    double a[16];
    for (int k = 0; k < 16; k++) a[k] = static_cast<double>(T[i * 16 + k]);
    for (int64_t j0 = 0; j0 < i; j0 += 4) {
      // 4 pairs at once in one vector register; acc + a·t (fused: the product is exact)
      V4d acc = Splat(a[0]) * LoadV4(Tt + j0);
      for (int k = 1; k < 16; k++) acc = acc + Splat(a[k]) * LoadV4(Tt + k * Vp + j0);
      const int64_t n = i - j0 < 4 ? i - j0 : 4;
      for (int64_t q = 0; q < n; q++) out[p + j0 + q] = static_cast<float>(acc[q]);
    }
    p += i;
  }
}
#pragma GCC pop_options

Napi::Value InteractionForward(const Napi::CallbackInfo& info) {
  const char* fn = "interactionForward";
  if (info.Length() != 7) { Fail(info.Env(), fn, "expected 7 arguments"); return info.Env().Undefined(); }
  int64_t s[3];
  if (!Ints(info, 4, 3, fn, s)) return info.Env().Undefined();
  const int64_t B = s[0], F = s[1], d = s[2];
  if (d < 1) { Fail(info.Env(), fn, "d must be ≥ 1"); return info.Env().Undefined(); }
  const int64_t V = F + 1, P = V * (V - 1) / 2, W = d + P;
  View<float> out, tc, bot, emb;
  if (!Arg(info, 0, napi_float32_array, fn, "out", B * W, &out) || !Arg(info, 1, napi_float32_array, fn, "tcache", B * V * d, &tc) ||
      !Arg(info, 2, napi_float32_array, fn, "bot", B * d, &bot) || !Arg(info, 3, napi_float32_array, fn, "emb", B * F * d, &emb))
    return info.Env().Undefined();
  std::vector<double> Tt(static_cast<size_t>(((V + 3) & ~int64_t{3}) * d)), acc(static_cast<size_t>(V));
  for (int64_t b = 0; b < B; b++) {
    float* T = tc.data + b * V * d;
    float* r = out.data + b * W;
    std::memcpy(T, bot.data + b * d, sizeof(float) * d);
    std::memcpy(r, bot.data + b * d, sizeof(float) * d);
    std::memcpy(T + d, emb.data + b * F * d, sizeof(float) * F * d);
    if (d == 16) PairsOne16(r + d, T, Tt.data(), V);
    else PairsOne(r + d, T, Tt.data(), acc.data(), V, d);
  }
  return info.Env().Undefined();
}

// One sample's dT in gather form: dT_i = Σ_{j<i} dZ_ij T_j + Σ_{j>i} dZ_ji T_j, vectorised over
// the d components, j ascending (the d = 16 twin's order), d fixed at compile time.
template <int D>
HC_CLONES
void GradOne(float* __restrict dbot, float* __restrict demb, const float* __restrict dr, const float* __restrict T,
             int64_t V, double* __restrict Td) {
  constexpr int64_t d = D;
  for (int64_t k = 0; k < V * d; k++) Td[k] = static_cast<double>(T[k]);  // converted once, read 2(V−1) times
  double s[D];  // a local array: the compiler keeps it in registers
  const float* z = dr + d;  // pair (i, j), i > j, at z[i(i−1)/2 + j]
  for (int64_t i = 0; i < V; i++) {
    for (int64_t k = 0; k < d; k++) s[k] = 0.0;
    const float* zi = z + i * (i - 1) / 2;
    for (int64_t j = 0; j < i; j++) {
      const double g = zi[j];
      const double* tj = Td + j * d;
      for (int64_t k = 0; k < d; k++) s[k] = std::fma(g, tj[k], s[k]);
    }
    int64_t zz = (i + 1) * i / 2 + i;
    for (int64_t j = i + 1; j < V; j++) {
      const double g = z[zz];
      zz += j;
      const double* tj = Td + j * d;
      for (int64_t k = 0; k < d; k++) s[k] = std::fma(g, tj[k], s[k]);
    }
    if (i == 0) {
      for (int64_t k = 0; k < d; k++) dbot[k] = static_cast<float>(static_cast<double>(dr[k]) + s[k]);
    } else {
      float* o = demb + (i - 1) * d;
      for (int64_t k = 0; k < d; k++) o[k] = static_cast<float>(s[k]);
    }
  }
}

// Any d: the pair (scatter) form of the any-d twin, rounding to float after every pair as it does:
// for i > j, dT_i += dZ_ij T_j and dT_j += dZ_ij T_i (pairs with dZ = 0 skipped).
HC_CLONES
void GradOnePairs(float* __restrict dbot, float* __restrict demb, const float* __restrict dr, const float* __restrict T,
                  int64_t V, int64_t d, float* __restrict s) {
  for (int64_t k = 0; k < V * d; k++) s[k] = 0.0f;
  const float* z = dr + d;
  int64_t p = 0;
  for (int64_t i = 1; i < V; i++) {
    const float* ti = T + i * d;
    float* si = s + i * d;
    for (int64_t j = 0; j < i; j++) {
      const double g = z[p++];
      if (g == 0) continue;
      const float* tj = T + j * d;
      float* sj = s + j * d;
      for (int64_t k = 0; k < d; k++) {
        si[k] = static_cast<float>(static_cast<double>(si[k]) + g * static_cast<double>(tj[k]));
        sj[k] = static_cast<float>(static_cast<double>(sj[k]) + g * static_cast<double>(ti[k]));
      }
    }
  }
  for (int64_t k = 0; k < d; k++) dbot[k] = static_cast<float>(static_cast<double>(dr[k]) + static_cast<double>(s[k]));
  std::memcpy(demb, s + d, sizeof(float) * (V - 1) * d);
}

Napi::Value InteractionBackward(const Napi::CallbackInfo& info) {
  const char* fn = "interactionBackward";
  if (info.Length() != 7) { Fail(info.Env(), fn, "expected 7 arguments"); return info.Env().Undefined(); }
  int64_t s[3];
  if (!Ints(info, 4, 3, fn, s)) return info.Env().Undefined();
  const int64_t B = s[0], F = s[1], d = s[2];
  if (d < 1) { Fail(info.Env(), fn, "d must be ≥ 1"); return info.Env().Undefined(); }
  const int64_t V = F + 1, P = V * (V - 1) / 2, W = d + P;
  View<float> dbot, demb, dout, tc;
  if (!Arg(info, 0, napi_float32_array, fn, "dbot", B * d, &dbot) || !Arg(info, 1, napi_float32_array, fn, "demb", B * F * d, &demb) ||
      !Arg(info, 2, napi_float32_array, fn, "dout", B * W, &dout) || !Arg(info, 3, napi_float32_array, fn, "tcache", B * V * d, &tc))
    return info.Env().Undefined();
  std::vector<float> pairs(static_cast<size_t>(V * d));
  std::vector<double> td(static_cast<size_t>(V * d));
  for (int64_t b = 0; b < B; b++) {
    float* db = dbot.data + b * d;
    float* de = demb.data + b * F * d;
    const float* dr = dout.data + b * W;
    const float* T = tc.data + b * V * d;
    if (d == 16) GradOne<16>(db, de, dr, T, V, td.data());
    else GradOnePairs(db, de, dr, T, V, d, pairs.data());
  }
  return info.Env().Undefined();
}

// ---- embedding gather and sparse updates --------------------------------------------------

Napi::Value Gather(const Napi::CallbackInfo& info) {
  const char* fn = "gather";
  Napi::Env env = info.Env();
  if (info.Length() != 7 || !info[1].IsArray()) { Fail(env, fn, "expected (out, tables[], rows, cats, B, F, d)"); return env.Undefined(); }
  int64_t s[3];
  if (!Ints(info, 4, 3, fn, s)) return env.Undefined();
  const int64_t B = s[0], F = s[1], d = s[2];
  View<float> out;
  View<int32_t> rows, cats;
  if (!Arg(info, 0, napi_float32_array, fn, "out", B * F * d, &out) || !Arg(info, 2, napi_int32_array, fn, "rows", F, &rows) ||
      !Arg(info, 3, napi_int32_array, fn, "cats", B * F, &cats))
    return env.Undefined();
  Napi::Array arr = info[1].As<Napi::Array>();
  if (static_cast<int64_t>(arr.Length()) < F) { Fail(env, fn, "fewer tables than F"); return env.Undefined(); }
  std::vector<const float*> w(static_cast<size_t>(F));
  for (int64_t f = 0; f < F; f++) {
    Napi::Value v = arr.Get(static_cast<uint32_t>(f));
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      Fail(env, fn, "table " + std::to_string(f) + " is not a Float32Array");
      return env.Undefined();
    }
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    if (static_cast<int64_t>(ta.ElementLength()) < static_cast<int64_t>(rows.data[f]) * d) {
      Fail(env, fn, "table " + std::to_string(f) + " is shorter than rows×d");
      return env.Undefined();
    }
    w[f] = reinterpret_cast<const float*>(TypedData(ta));
  }
  // check every id first, so a bad batch leaves `out` as the caller passed it (as the twin)
  for (int64_t i = 0; i < B * F; i++) {
    const int32_t id = cats.data[i];
    if (id < 0 || id >= rows.data[i % F]) return Napi::Number::New(env, static_cast<double>(i));
  }
  constexpr int64_t AHEAD = 4;  // samples: random rows of big tables miss every cache level
  for (int64_t b = 0; b < B; b++) {
    if (b + AHEAD < B) {
      const int32_t* c = cats.data + (b + AHEAD) * F;
      for (int64_t f = 0; f < F; f++) __builtin_prefetch(w[f] + static_cast<int64_t>(c[f]) * d);
    }
    const int32_t* c = cats.data + b * F;
    float* o = out.data + b * F * d;
    for (int64_t f = 0; f < F; f++) std::memcpy(o + f * d, w[f] + static_cast<int64_t>(c[f]) * d, sizeof(float) * d);
  }
  return Napi::Number::New(env, -1);
}

}  // namespace

namespace hc {
// rows of a big table are random reads and writes: ask for them this many rows ahead

// acc[a..a+d) += g[..d) in float, as the twin's `acc[a0 + k] = acc[a0 + k] + grad[g0 + k]`
HC_CLONES
void AddRow(float* __restrict acc, const float* __restrict g, int64_t d) {
  for (int64_t k = 0; k < d; k++) acc[k] = acc[k] + g[k];
}

HC_CLONES
void SgdRows(float* __restrict w, const float* __restrict acc, const int32_t* __restrict uniq, int64_t n, int64_t d, double lr) {
  for (int64_t i = 0; i < n; i++) {
    if (i + ROWS_AHEAD < n) __builtin_prefetch(w + static_cast<int64_t>(uniq[i + ROWS_AHEAD]) * d, 1);
    float* wr = w + static_cast<int64_t>(uniq[i]) * d;
    const float* a = acc + i * d;
    for (int64_t k = 0; k < d; k++) wr[k] = static_cast<float>(static_cast<double>(wr[k]) - lr * static_cast<double>(a[k]));
  }
}

HC_CLONES
void AdagradRows(float* __restrict w, float* __restrict accum, const float* __restrict acc, const int32_t* __restrict uniq,
                 int64_t n, int64_t d, double lr, double eps) {
  const double invD = 1.0 / static_cast<double>(d);
  for (int64_t i = 0; i < n; i++) {
    if (i + ROWS_AHEAD < n) {
      __builtin_prefetch(w + static_cast<int64_t>(uniq[i + ROWS_AHEAD]) * d, 1);
      __builtin_prefetch(accum + uniq[i + ROWS_AHEAD], 1);
    }
    const int32_t r = uniq[i];
    float* wr = w + static_cast<int64_t>(r) * d;
    const float* a = acc + i * d;
    double sq = 0;
    for (int64_t k = 0; k < d; k++) {
      const double g = a[k];
      sq += g * g;
    }
    const double m = static_cast<double>(accum[r]) + sq * invD;
    accum[r] = static_cast<float>(m);
    const double step = lr / (std::sqrt(m) + eps);
    for (int64_t k = 0; k < d; k++) wr[k] = static_cast<float>(static_cast<double>(wr[k]) - step * static_cast<double>(a[k]));
  }
}

}  // namespace hc

namespace {

// scatterTable(w, accum|null, touched, rows, d, cols, nc, F, cats, B, grad, lr, eps) → −1, or the
// flat index b·F + f of the first id outside [0, rows) (nothing of this table is updated then).
Napi::Value ScatterTable(const Napi::CallbackInfo& info) {
  const char* fn = "scatterTable";
  Napi::Env env = info.Env();
  if (info.Length() != 13) { Fail(env, fn, "expected 13 arguments"); return env.Undefined(); }
  int64_t rd[2] = {0, 0}, nf[2] = {0, 0}, bb[1] = {0};
  if (!Ints(info, 3, 2, fn, rd) || !Ints(info, 6, 2, fn, nf) || !Ints(info, 9, 1, fn, bb)) return env.Undefined();
  const int64_t rows = rd[0], d = rd[1], nc = nf[0], F = nf[1], B = bb[0];
  const double lr = info[11].As<Napi::Number>().DoubleValue();
  const double eps = info[12].As<Napi::Number>().DoubleValue();
  View<float> w, accum, grad;
  View<uint8_t> touched;
  View<int32_t> cols, cats;
  const bool adagrad = !info[1].IsNull() && !info[1].IsUndefined();
  if (!Arg(info, 0, napi_float32_array, fn, "weights", rows * d, &w) ||
      (adagrad && !Arg(info, 1, napi_float32_array, fn, "accum", rows, &accum)) ||
      !Arg(info, 2, napi_uint8_array, fn, "touched", (rows + 7) / 8, &touched) ||
      !Arg(info, 5, napi_int32_array, fn, "cols", nc, &cols) || !Arg(info, 8, napi_int32_array, fn, "cats", B * F, &cats) ||
      !Arg(info, 10, napi_float32_array, fn, "grad", B * F * d, &grad))
    return env.Undefined();
  for (int64_t c = 0; c < nc; c++)
    if (cols.data[c] < 0 || cols.data[c] >= F) { Fail(env, fn, "column out of range"); return env.Undefined(); }

  thread_local RowSums sc;  // one per thread: parallel workers call the kernels at the same time
  sc.Begin(B * nc, d);
  int64_t bad = -1;
  // rows in first-seen order (b-major, then the table's columns), duplicates summed as the twin
  for (int64_t b = 0; b < B && bad < 0; b++) {
    for (int64_t c = 0; c < nc; c++) {
      const int64_t f = cols.data[c];
      const int32_t id = cats.data[b * F + f];
      if (id < 0 || id >= rows) { bad = b * F + f; break; }
      AddRow(sc.Row(id), grad.data + (b * F + f) * d, d);
    }
  }
  sc.End();
  if (bad >= 0) return Napi::Number::New(env, static_cast<double>(bad));
  const int32_t* uniq = sc.uniq.data();
  if (adagrad) AdagradRows(w.data, accum.data, sc.acc.data(), uniq, sc.n, d, lr, eps);
  else SgdRows(w.data, sc.acc.data(), uniq, sc.n, d, lr);
  for (int64_t i = 0; i < sc.n; i++) touched.data[uniq[i] >> 3] |= static_cast<uint8_t>(1u << (uniq[i] & 7));
  return Napi::Number::New(env, -1);
}

// ---- bias + ReLU after a GEMM -------------------------------------------------------------

HC_CLONES
void BiasReluRows(float* __restrict out, const float* __restrict bias, int64_t B, int64_t O, bool relu) {
  for (int64_t b = 0; b < B; b++) {
    float* r = out + b * O;
    if (relu) {
      for (int64_t o = 0; o < O; o++) {
        int32_t x;
        const float v = r[o] + bias[o];
        std::memcpy(&x, &v, 4);
        x &= ~(x >> 31);  // negatives (and −0) → +0 through the sign bit, as the twin
        std::memcpy(r + o, &x, 4);
      }
    } else {
      for (int64_t o = 0; o < O; o++) r[o] = r[o] + bias[o];
    }
  }
}

Napi::Value BiasRelu(const Napi::CallbackInfo& info) {
  const char* fn = "biasRelu";
  if (info.Length() != 5) { Fail(info.Env(), fn, "expected 5 arguments"); return info.Env().Undefined(); }
  int64_t s[2];
  if (!Ints(info, 2, 2, fn, s)) return info.Env().Undefined();
  View<float> out, bias;
  if (!Arg(info, 0, napi_float32_array, fn, "out", s[0] * s[1], &out) || !Arg(info, 1, napi_float32_array, fn, "bias", s[1], &bias))
    return info.Env().Undefined();
  BiasReluRows(out.data, bias.data, s[0], s[1], info[4].ToBoolean().Value());
  return info.Env().Undefined();
}

// biasGrad(dbias, dout, B, O): dbias[o] += Σ_b dout[b·O + o], in b order per o (float32 adds,
// vectorised across o, no reassociation), as the twin in model/layers.ts. Replaces a GEMM with N = 1.
HC_CLONES
void ColumnSum(float* __restrict dbias, const float* __restrict dout, int64_t B, int64_t O) {
  constexpr int64_t kBlock = 256;  // an accumulator block of o stays in registers / L1
  float acc[kBlock];
  for (int64_t o0 = 0; o0 < O; o0 += kBlock) {
    const int64_t n = O - o0 < kBlock ? O - o0 : kBlock;
    for (int64_t o = 0; o < n; o++) acc[o] = dbias[o0 + o];
    for (int64_t b = 0; b < B; b++) {
      const float* r = dout + b * O + o0;
      for (int64_t o = 0; o < n; o++) acc[o] = acc[o] + r[o];
    }
    for (int64_t o = 0; o < n; o++) dbias[o0 + o] = acc[o];
  }
}

Napi::Value BiasGrad(const Napi::CallbackInfo& info) {
  const char* fn = "biasGrad";
  if (info.Length() != 4) { Fail(info.Env(), fn, "expected 4 arguments"); return info.Env().Undefined(); }
  int64_t s[2];
  if (!Ints(info, 2, 2, fn, s)) return info.Env().Undefined();
  View<float> dbias, dout;
  if (!Arg(info, 0, napi_float32_array, fn, "dbias", s[1], &dbias) || !Arg(info, 1, napi_float32_array, fn, "dout", s[0] * s[1], &dout))
    return info.Env().Undefined();
  ColumnSum(dbias.data, dout.data, s[0], s[1]);
  return info.Env().Undefined();
}

// reluBackward(doutBits, outBits, n): dout = out > 0 ? dout : 0 on Int32 views, branch-free as the
// twin (out is a ReLU output ≥ +0, so −bits(out) >> 31 is all ones exactly when out > 0).
HC_CLONES
void ReluMask(int32_t* __restrict dout, const int32_t* __restrict out, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    dout[i] = dout[i] & (static_cast<int32_t>(0u - static_cast<uint32_t>(out[i])) >> 31);  // −x without overflow
}

Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  const char* fn = "reluBackward";
  if (info.Length() != 3) { Fail(info.Env(), fn, "expected 3 arguments"); return info.Env().Undefined(); }
  int64_t n = 0;
  if (!Ints(info, 2, 1, fn, &n)) return info.Env().Undefined();
  View<int32_t> dout, out;
  if (!Arg(info, 0, napi_int32_array, fn, "doutBits", n, &dout) || !Arg(info, 1, napi_int32_array, fn, "outBits", n, &out))
    return info.Env().Undefined();
  ReluMask(dout.data, out.data, n);
  return info.Env().Undefined();
}

std::string Isa() {
#if defined(HC_NO_CLONES)
  return "x86-64";
#elif defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) return "avx512";
  if (__builtin_cpu_supports("x86-64-v3")) return "avx2+fma";
  return "x86-64";
#else
  return "generic";
#endif
}

}  // namespace

void RegisterParallelKernels(Napi::Env env, Napi::Object k);  // parallel.cc

// Called from blas.cc's Init: adds the kernels under exports.kernels.
void RegisterKernels(Napi::Env env, Napi::Object exports) {
  Napi::Object k = Napi::Object::New(env);
  k.Set("interactionForward", Napi::Function::New(env, InteractionForward, "interactionForward"));
  k.Set("interactionBackward", Napi::Function::New(env, InteractionBackward, "interactionBackward"));
  k.Set("gather", Napi::Function::New(env, Gather, "gather"));
  k.Set("scatterTable", Napi::Function::New(env, ScatterTable, "scatterTable"));
  k.Set("biasRelu", Napi::Function::New(env, BiasRelu, "biasRelu"));
  k.Set("reluBackward", Napi::Function::New(env, ReluBackward, "reluBackward"));
  k.Set("biasGrad", Napi::Function::New(env, BiasGrad, "biasGrad"));
  RegisterParallelKernels(env, k);
  k.Set("isa", Napi::String::New(env, Isa()));
  exports.Set("kernels", k);
}
