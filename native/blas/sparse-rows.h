// The row-wise sparse update loops shared by kernels.cc (scatterTable) and parallel.cc (parApply):
// float adds in the order given, updates in double rounded to float where the TypeScript twin
// stores (model/sparse-kernels.ts tsScatterTable). Defined in kernels.cc, built per ISA.
#pragma once
#include <cstdint>

namespace hc {

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
