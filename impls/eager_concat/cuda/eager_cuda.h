// impls/eager_concat/cuda/eager_cuda.h — eager_concat/cuda and eager_concat-softmax_fp32/cuda:
// transformers' GPT-OSS eager path on the GPU (cuBLAS GEMMs with dtype output around one row
// kernel), with the rounding points of eager_concat/cpu. Host-only
// (docs/impls/eager_concat_cuda.md).
#pragma once

#include <cstdint>
#include <memory>

#include "impls/impl.h"

namespace sinkbench::eager_cuda {

// The eager path materialises [Hq, Sq, Sk] logits (then P, in place) per sequence; cases whose
// buffer would exceed this are declined.
inline constexpr int64_t kLogitsBudgetBytes = int64_t(4) << 30;

// Bytes of the logits buffer of a case (the longest sequence's Hq * Sq * Sk in the dtype).
int64_t logits_bytes(const CaseSpec& c);

// ok, or why not: dtype, GQA shape, logits over the budget, no GPU / not sm_90.
Support supports_case(const CaseSpec& c);

// softmax_fp32: the name of transformers' eager_paged softmax path; same rounding points, same
// kernel, same bits (docs/impls/eager_concat_cuda.md).
std::unique_ptr<Impl> make_eager_concat_cuda(bool softmax_fp32);

}  // namespace sinkbench::eager_cuda
