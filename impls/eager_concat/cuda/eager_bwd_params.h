// impls/eager_concat/cuda/eager_bwd_params.h — the parameter blocks of eager_concat/cuda's
// backward kernels and their launchers: the row kernel between the GEMMs (the forward's softmax
// recomputed, then autograd's softmax, max-subtraction and scale backwards with their dtype
// roundings), the GQA group sum of the per-head dk/dv (repeat_kv's backward) and the per-head sum
// of the sink column's gradient. Plain C++: the host fills them, the .cu launchers pass them by
// value. The GEMMs are cuBLAS calls made by the host (eager_cuda.cpp).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cases/mask.h"
#include "core/dtype.h"

namespace sinkbench::eager_cuda {

struct SoftmaxBwdParams {
  // [heads_q, sq, sk] in the case dtype, row-major, of one sequence; each row is read and
  // rewritten in place by one CTA. p: the QK^T GEMM's rounded products on entry, P as the forward
  // saved it (rounded, 0 on keys outside the row's softmax) on exit, for the dv GEMM.
  void* p = nullptr;
  // ds: dP = dO V^T (the GEMM's rounded output) on entry, dS = rd(dc * scale) on exit (0 on keys
  // outside the softmax), for the dq and dk GEMMs.
  void* ds = nullptr;
  const float* maybe_sinks = nullptr;  // [heads_q] dtype-exact sinks; nullptr: no sink column
  // [heads_q, total_q] fp32: each row's gradient of its sink column (a dtype value), element
  // h * total_q + dsink_row0 + i. Written only where maybe_sinks is set.
  float* dsink_rows = nullptr;
  int64_t dsink_row0 = 0;  // the sequence's first packed query row (cu_q[s])
  int64_t total_q = 0;
  int64_t sq = 0;   // query rows of this sequence (grid x)
  int64_t sk = 0;   // keys of this sequence (the row length)
  int heads_q = 0;  // grid y
  MaskRule mask;    // visibility rule of cases/mask.h (bottom-right aligned)
  float scale = 0;
  float mask_value = 0;  // -finfo(dtype).max, as the forward
  // eager_paged's softmax(dtype=float32): the softmax backward reads P in fp32 (the softmax's own
  // output before the cast); otherwise P rounded to the dtype.
  bool p_fp32 = false;
};

// dk and dv of one sequence from the per-query-head GEMM outputs: fp32 sums over each GQA group's
// heads in head order, rounded to the dtype.
struct GroupSumParams {
  const void* dk_heads = nullptr;  // [sk, heads_q, head_dim] dtype
  const void* dv_heads = nullptr;
  void* dk = nullptr;  // the sequence's first key row of the packed [total_k, heads_kv, head_dim]
  void* dv = nullptr;
  int64_t sk = 0;
  int heads_q = 0, heads_kv = 0, head_dim = 0;
};

// dsinks[h] = rd(sum over the packed rows of dsink_rows[h * total_q + r]), fp32 sums in a fixed
// order.
struct DsinksParams {
  const float* dsink_rows = nullptr;
  float* dsinks = nullptr;  // [heads_q]
  int64_t total_q = 0;
  int heads_q = 0;
};

// One instantiation per dtype (eager_bwd_{bf16,fp16}.cu). Each returns the launch error
// (cudaSuccess when queued); none syncs.
template <DType T>
cudaError_t launch_softmax_bwd(const SoftmaxBwdParams& p, cudaStream_t stream);
template <DType T>
cudaError_t launch_group_sum(const GroupSumParams& p, cudaStream_t stream);
template <DType T>
cudaError_t launch_dsinks_sum(const DsinksParams& p, cudaStream_t stream);

}  // namespace sinkbench::eager_cuda
