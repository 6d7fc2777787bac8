{
  "targets": [
    {
      "target_name": "blas",
      "sources": ["blas.cc", "kernels.cc", "parallel.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "/usr/include/x86_64-linux-gnu",
        "/usr/include/openblas"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-O3", "-std=c++17", "-ffp-contract=off", "-fno-math-errno"],
      "libraries": ["-lopenblas"]
    }
  ]
}
