// impls/cuda/dispatch.h — run-time (dtype, head dim) to template instantiation: the switch
// helpers every host caller of the tensor-core kernels (tiled/cuda, flash_paged/cuda) goes
// through, so the supported set is written down once. Unsupported values reach the default
// branch, which names them.
#pragma once

#include <fmt/format.h>

#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace sinkbench::cuda {

// Empty when an instantiation exists for (dtype, head_dim); otherwise the reason.
inline std::string unsupported_reason(DType t, int head_dim) {
  if (t == DType::f32)
    return "fp32 inputs: the tensor-core kernels (mma.sync m16n8k16) take bf16 or fp16 only";
  if (t != DType::bf16 && t != DType::f16) return "unknown dtype";
  if (head_dim != 64 && head_dim != 128)
    return fmt::format("head_dim {}: instantiated for 64 and 128 only", head_dim);
  return {};
}

// f.template operator()<DType::bf16>() or <DType::f16>(); anything else throws.
template <class F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::bf16:
      return f.template operator()<DType::bf16>();
    case DType::f16:
      return f.template operator()<DType::f16>();
    default:
      throw InternalError(fmt::format("no tensor-core kernel for dtype {}", dtype_name(t)));
  }
}

// f.template operator()<64>() or <128>(); anything else throws.
template <class F>
decltype(auto) dispatch_head_dim(int head_dim, F&& f) {
  switch (head_dim) {
    case 64:
      return f.template operator()<64>();
    case 128:
      return f.template operator()<128>();
    default:
      throw InternalError(fmt::format("no tensor-core kernel for head_dim {}", head_dim));
  }
}

// Both at once: f.template operator()<T, HeadDim>().
template <class F>
decltype(auto) dispatch_fwd(DType t, int head_dim, F&& f) {
  return dispatch_dtype(t, [&]<DType T>() -> decltype(auto) {
    return dispatch_head_dim(
        head_dim, [&]<int HD>() -> decltype(auto) { return f.template operator()<T, HD>(); });
  });
}

}  // namespace sinkbench::cuda
