// The row-wise sparse update loops shared by kernels.cc (scatterTable) and parallel.cc (parApply):
// float adds in the order given, updates in double rounded to float where the TypeScript twin
// stores (model/sparse-kernels.ts tsScatterTable). Defined in kernels.cc, built per ISA.
#pragma once
#include <cstdint>
#include <cstring>
#include <vector>

namespace hc {

// Distinct row ids in first-seen order, each with a float sum row of d floats (open addressing,
// kept per thread and reused call after call): Begin, Row(id) per lookup, End.
struct RowSums {
  std::vector<int32_t> keys, vals, uniq, where;
  std::vector<float> acc;
  uint32_t mask = 0;
  int64_t n = 0, d = 0;

  // room for up to maxIds distinct ids of dim floats
  void Begin(int64_t maxIds, int64_t dim) {
    size_t cap = 16;
    while (static_cast<int64_t>(cap) < 2 * maxIds) cap <<= 1;
    if (keys.size() < cap) { keys.assign(cap, -1); vals.assign(cap, 0); }
    mask = static_cast<uint32_t>(keys.size() - 1);
    if (static_cast<int64_t>(uniq.size()) < maxIds) { uniq.resize(maxIds); where.resize(maxIds); }
    if (static_cast<int64_t>(acc.size()) < maxIds * dim) acc.resize(maxIds * dim);
    n = 0;
    d = dim;
  }

  // the sum row of id (zeroed when id is new)
  float* Row(int32_t id) {
    uint32_t h = (static_cast<uint32_t>(id) * 0x9e3779b1u >> 7) & mask;
    for (;;) {
      const int32_t k = keys[h];
      if (k == id) return acc.data() + static_cast<int64_t>(vals[h]) * d;
      if (k == -1) {
        keys[h] = id;
        vals[h] = static_cast<int32_t>(n);
        uniq[n] = id;
        where[n] = static_cast<int32_t>(h);
        float* a = acc.data() + n * d;
        n++;
        std::memset(a, 0, sizeof(float) * d);
        return a;
      }
      h = (h + 1) & mask;
    }
  }

  // all lookups are done: emptying the slots this call filled cannot break a probe chain
  void End() {
    for (int64_t i = 0; i < n; i++) keys[where[i]] = -1;
  }
};

// rows of a big table are random reads and writes: ask for them this many rows ahead
constexpr int64_t ROWS_AHEAD = 8;

// acc[0..d) += g[0..d) in float
void AddRow(float* __restrict acc, const float* __restrict g, int64_t d);
// w[uniq[i]] -= lr·acc[i] for i < n
void SgdRows(float* __restrict w, const float* __restrict acc, const int32_t* __restrict uniq, int64_t n, int64_t d, double lr);
// row-wise Adagrad: accum[r] += mean(acc[i]²); w[r] -= lr·acc[i] / (sqrt(accum[r]) + eps)
void AdagradRows(float* __restrict w, float* __restrict accum, const float* __restrict acc, const int32_t* __restrict uniq,
                 int64_t n, int64_t d, double lr, double eps);

}  // namespace hc
