// impls/tiled/cuda/tiled_bwd_params.h — the parameter block of the tiled/cuda backward pass (the
// attention base of impls/cuda/attn_params.h, extended) and its launcher declaration. Plain C++
// (no CUDA headers beyond cuda_runtime_api.h): the host side (tiled_bwd_case.cpp) fills it, the
// .cu launchers pass it by value as a __grid_constant__ parameter.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "impls/cuda/attn_params.h"

namespace sinkbench::tiled_cuda {

// The base block (impls/cuda/attn_params.h: q, k, v, sinks, batch, strides, lse layout, mask,
// scale) with the base's o and lse holding the forward's saved outputs (read here, not written),
// plus the incoming gradients, the gradients and the grids' sizes.
struct BwdParams : cuda::AttnParams {
  // Incoming gradients.
  const void* d_o = nullptr;          // [total_q, Hq, D], case dtype: dL/do
  const float* maybe_dlse = nullptr;  // fp32, at lse_index() like lse: dL/dlse; nullptr: none
  // Outputs.
  void* dq = nullptr;          // [total_q, Hq, D], case dtype
  void* dk = nullptr;          // [total_k, Hkv, D], case dtype, summed over the GQA group
  void* dv = nullptr;          // [total_k, Hkv, D], case dtype, summed over the GQA group
  float* dsinks = nullptr;     // [Hq] fp32; written only where maybe_sinks is set
  float* row_delta = nullptr;  // scratch, fp32, at lse_index(): D_i = do_i . o_i - dlse_i

  // Element strides of the gradients (int64, like the base's).
  int64_t do_row_stride = 0;   // between consecutive tokens of do (Hq * D when packed)
  int64_t do_head_stride = 0;  // between query heads of do (D)
  int64_t dq_row_stride = 0;   // between consecutive tokens of dq (Hq * D)
  int64_t dq_head_stride = 0;  // between query heads of dq (D)
  int64_t dk_row_stride = 0;   // between consecutive keys of dk (Hkv * D)
  int64_t dk_head_stride = 0;  // between KV heads of dk (D)
  int64_t dv_row_stride = 0;   // likewise for dv
  int64_t dv_head_stride = 0;

  int64_t max_seqlen_q = 0;  // longest Sq of the batch: sizes the dq and row-delta grids
  int64_t max_seqlen_k = 0;  // longest Sk of the batch: sizes the dk/dv grid

  // The mma.sync kernels even where warpgroup-MMA ones exist (D 64): the same products in the
  // same order, kept to compare the two bit for bit.
  bool force_mma_sync = false;
};

// The backward pass of one (dtype, head dim) instantiation, each in its own .cu file: the
// row-delta kernel, then the dk/dv kernel (on `stream`) beside the dq kernel (on a side stream
// forked from and joined back into `stream`), then (with a sink) the dsinks reduction; all of it
// is ordered after earlier work on `stream` and before later work. Returns the first launch
// error; does not sync.
template <DType T, int HeadDim>
cudaError_t launch_bwd(const BwdParams& p, cudaStream_t stream);

}  // namespace sinkbench::tiled_cuda
