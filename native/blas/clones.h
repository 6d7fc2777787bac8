// HC_CLONES: build a function three times (x86-64-v4 = AVX-512, x86-64-v3 = AVX2 + FMA, baseline)
// with GCC's target_clones; the loader picks one per CPU (ifunc). -DHC_NO_CLONES: baseline only.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(HC_NO_CLONES)
#define HC_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HC_CLONES
#endif
