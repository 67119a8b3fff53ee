// impls/eager_concat/cuda/eager_softmax_params.h — the parameter block of eager_concat/cuda's row
// kernel (scale, mask, sink concat, max subtraction, fp32 softmax, P rounded to the dtype) and its
// launcher. Plain C++: the host fills it, the .cu launchers pass it by value (__grid_constant__).
// The GEMMs around it are cuBLAS calls made by the host (eager_cuda.cpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cases/mask.h"
#include "core/dtype.h"

namespace sinkbench::eager_cuda {

struct SoftmaxParams {
  // [heads_q, sq, sk] in the case dtype, row-major, of one sequence: the QK^T GEMM's rounded
  // products on entry, P (rounded to the dtype, 0 on keys outside the row's softmax) on exit.
  // Each row is read and rewritten in place by one CTA.
  void* logits = nullptr;
  float* lse = nullptr;                // sink-inclusive fp32 lse of the softmax stage (output)
  const float* maybe_sinks = nullptr;  // [heads_q] dtype-exact sinks; nullptr: no sink column
  int64_t sq = 0;                      // query rows of this sequence (grid x)
  int64_t sk = 0;                      // keys of this sequence (the row length)
  int heads_q = 0;                     // grid y
  // lse element of (head h, row i) = lse_base + h * lse_head_stride + i (Layout::lse_offset).
  int64_t lse_base = 0;         // s * Hq * Sq for fixed lengths, cu_seqlens_q[s] for varlen
  int64_t lse_head_stride = 0;  // Sq for fixed lengths, total_q for varlen
  MaskRule mask;                // visibility rule of cases/mask.h (bottom-right aligned)
  float scale = 0;              // logit scale (fp32): logits are rd(product * scale)
  float mask_value = 0;         // -finfo(dtype).max: what transformers adds to a masked logit
};

// One instantiation per dtype (bf16, fp16), each in its own .cu file. Returns the launch error
// (cudaSuccess when queued); does not sync.
template <DType T>
cudaError_t launch_softmax(const SoftmaxParams& p, cudaStream_t stream);

}  // namespace sinkbench::eager_cuda
