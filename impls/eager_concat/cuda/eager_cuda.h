// impls/eager_concat/cuda/eager_cuda.h — eager_concat/cuda and eager_concat-softmax_fp32/cuda:
// transformers' GPT-OSS eager path on the GPU (cuBLAS GEMMs with dtype output around one row
// kernel), with the rounding points of eager_concat/cpu. Host-only
// (docs/impls/eager_concat_cuda.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "impls/impl.h"

namespace sinkbench::eager_cuda {

// The eager path materialises [Hq, Sq, Sk] logits (then P, in place) per sequence; cases whose
// buffer would exceed this are declined.
inline constexpr int64_t kLogitsBudgetBytes = int64_t(4) << 30;

// Bytes of the logits buffer of a case (the longest sequence's Hq * Sq * Sk in the dtype).
int64_t logits_bytes(const CaseSpec& c);

// ok, or why not: dtype, GQA shape, logits over the budget, no GPU / not sm_90.
Support supports_case(const CaseSpec& c);

// K and V already resident on the device in the packed layout of Inputs::k / Inputs::v
// ([total_k, Hkv, D], case dtype).
struct DeviceKV {
  const void* k = nullptr;
  const void* v = nullptr;
};

// The forward pass of eager_concat/cuda (either variant: same kernels, same bits) over K/V that
// are already on the device, prepared (Impl::prepare), for eager_paged/cuda, which gathers them
// from its page pools. q and the sinks are uploaded from `in` here; in.k and in.v are not read;
// kv must stay valid while the result is used. `name` labels guard failures. run()'s seconds: the
// GEMMs and row kernels alone. The caller checks supports_case first.
std::unique_ptr<PreparedForward> prepare_device_kv(const CaseSpec& c, const Inputs& in, DeviceKV kv,
                                                   const std::string& name);

// softmax_fp32: the name of transformers' eager_paged softmax path; same rounding points, same
// kernel, same bits (docs/impls/eager_concat_cuda.md).
std::unique_ptr<Impl> make_eager_concat_cuda(bool softmax_fp32);

}  // namespace sinkbench::eager_cuda
