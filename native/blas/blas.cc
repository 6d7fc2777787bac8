// hotcold BLAS addon: sgemm over OpenBLAS cblas_sgemm (row-major), and the DLRM kernels of kernels.cc.
//
//   sgemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
//     C[M×N] = alpha·op(A)·op(B) + beta·C, op(X) = Xᵀ when trans.
//
// A, B, C are Float32Arrays and may be subarrays: napi_get_typedarray_info returns the data
// pointer already adjusted by byteOffset. Every extent is checked against the array lengths
// before BLAS runs, so a bad call throws a JS error instead of reading out of bounds.
// OpenBLAS is pinned to one thread at load: sweeps run one job per core.
#include <napi.h>
#include <cblas.h>

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

void RegisterKernels(Napi::Env env, Napi::Object exports);  // kernels.cc

namespace {

bool Fail(Napi::Env env, const std::string& msg) {
  Napi::TypeError::New(env, "hotcold blas.sgemm: " + msg).ThrowAsJavaScriptException();
  return false;
}

// Checks that a rows×cols row-major matrix with leading dimension ld fits in `len` floats.
bool CheckMatrix(Napi::Env env, const char* name, int64_t rows, int64_t cols, int64_t ld, size_t len) {
  if (rows < 0 || cols < 0) return Fail(env, std::string(name) + ": negative extent");
  if (ld < (cols > 1 ? cols : 1)) return Fail(env, std::string(name) + ": leading dimension smaller than columns");
  if (rows == 0 || cols == 0) return true;
  int64_t need = (rows - 1) * ld + cols;
  if (need > static_cast<int64_t>(len))
    return Fail(env, std::string(name) + ": array too short (" + std::to_string(len) + " < " + std::to_string(need) + ")");
  return true;
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 13) { Fail(env, "expected 13 arguments"); return env.Undefined(); }
  if (!info[6].IsTypedArray() || !info[8].IsTypedArray() || !info[11].IsTypedArray()) {
    Fail(env, "A, B and C must be Float32Arrays");
    return env.Undefined();
  }
  Napi::TypedArray ta = info[6].As<Napi::TypedArray>();
  Napi::TypedArray tb = info[8].As<Napi::TypedArray>();
  Napi::TypedArray tc = info[11].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_float32_array || tb.TypedArrayType() != napi_float32_array ||
      tc.TypedArrayType() != napi_float32_array) {
    Fail(env, "A, B and C must be Float32Arrays");
    return env.Undefined();
  }
  const bool transA = info[0].ToBoolean().Value();
  const bool transB = info[1].ToBoolean().Value();
  const int64_t M = info[2].As<Napi::Number>().Int64Value();
  const int64_t N = info[3].As<Napi::Number>().Int64Value();
  const int64_t K = info[4].As<Napi::Number>().Int64Value();
  const float alpha = info[5].As<Napi::Number>().FloatValue();
  const int64_t lda = info[7].As<Napi::Number>().Int64Value();
  const int64_t ldb = info[9].As<Napi::Number>().Int64Value();
  const float beta = info[10].As<Napi::Number>().FloatValue();
  const int64_t ldc = info[12].As<Napi::Number>().Int64Value();

  Napi::Float32Array a = ta.As<Napi::Float32Array>();
  Napi::Float32Array b = tb.As<Napi::Float32Array>();
  Napi::Float32Array c = tc.As<Napi::Float32Array>();
  // stored shapes: A is M×K (K×M when transposed), B is K×N (N×K when transposed)
  if (!CheckMatrix(env, "A", transA ? K : M, transA ? M : K, lda, a.ElementLength())) return env.Undefined();
  if (!CheckMatrix(env, "B", transB ? N : K, transB ? K : N, ldb, b.ElementLength())) return env.Undefined();
  if (!CheckMatrix(env, "C", M, N, ldc, c.ElementLength())) return env.Undefined();
  if (M == 0 || N == 0) return env.Undefined();

  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(M), static_cast<blasint>(N), static_cast<blasint>(K), alpha,
              a.Data(), static_cast<blasint>(lda), b.Data(), static_cast<blasint>(ldb), beta,
              c.Data(), static_cast<blasint>(ldc));
  return env.Undefined();
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  if (info.Length() == 1 && info[0].IsNumber()) openblas_set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

// adviseHugePages(typedArray) → bool: madvise(MADV_HUGEPAGE) over the page-aligned interior of
// the array's memory. Called on big embedding tables before they are first written, so their
// random row reads cost fewer TLB misses where transparent huge pages are in `madvise` mode.
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsTypedArray()) return Napi::Boolean::New(env, false);
#ifdef MADV_HUGEPAGE
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  void* data = nullptr;  // napi_get_typedarray_info: also for a SharedArrayBuffer (ArrayBuffer::Data() refuses one)
  if (napi_get_typedarray_info(env, ta, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok || data == nullptr) return Napi::Boolean::New(env, false);
  uintptr_t begin = reinterpret_cast<uintptr_t>(data);
  uintptr_t end = begin + ta.ByteLength();
  const uintptr_t huge = 2u << 20;
  uintptr_t a = (begin + huge - 1) & ~(huge - 1);
  uintptr_t b = end & ~(huge - 1);
  if (b <= a) return Napi::Boolean::New(env, false);
  return Napi::Boolean::New(env, madvise(reinterpret_cast<void*>(a), b - a, MADV_HUGEPAGE) == 0);
#else
  return Napi::Boolean::New(env, false);
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  openblas_set_num_threads(1);
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("config", Napi::String::New(env, openblas_get_config()));
  RegisterKernels(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(blas, Init)
