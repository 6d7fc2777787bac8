// Argument checks shared by the addon's kernel files (kernels.cc, parallel.cc): typed-array
// views that also accept SharedArrayBuffers, size arguments, and a TypeError naming the kernel.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

namespace hc {

inline bool Fail(Napi::Env env, const char* fn, const std::string& msg) {
  Napi::TypeError::New(env, std::string("hotcold kernels.") + fn + ": " + msg).ThrowAsJavaScriptException();
  return false;
}

template <typename T>
struct View {
  T* data = nullptr;
  size_t len = 0;
};

// The data of a typed array, also when it lies in a SharedArrayBuffer (parallel workers):
// napi_get_typedarray_info gives the pointer (offset included) for both kinds of buffer,
// where Napi::ArrayBuffer::Data() refuses a shared one.
inline void* TypedData(const Napi::TypedArray& ta) {
  void* data = nullptr;
  napi_status st = napi_get_typedarray_info(ta.Env(), ta, nullptr, nullptr, &data, nullptr, nullptr);
  return st == napi_ok ? data : nullptr;
}

// A typed array argument of the given element type, with at least `need` elements.
template <typename T>
bool Arg(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type, const char* fn, const char* name,
         size_t need, View<T>* out) {
  Napi::Env env = info.Env();
  if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != type)
    return Fail(env, fn, std::string(name) + " has the wrong array type");
  Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
  out->len = ta.ElementLength();
  out->data = reinterpret_cast<T*>(TypedData(ta));
  if (out->len < need)
    return Fail(env, fn, std::string(name) + " too short (" + std::to_string(out->len) + " < " + std::to_string(need) + ")");
  return true;
}

inline bool Ints(const Napi::CallbackInfo& info, size_t from, size_t n, const char* fn, int64_t* out) {
  for (size_t k = 0; k < n; k++) {
    if (!info[from + k].IsNumber()) return Fail(info.Env(), fn, "expected a number at argument " + std::to_string(from + k));
    out[k] = info[from + k].As<Napi::Number>().Int64Value();
    if (out[k] < 0) return Fail(info.Env(), fn, "negative size at argument " + std::to_string(from + k));
  }
  return true;
}

}  // namespace hc
