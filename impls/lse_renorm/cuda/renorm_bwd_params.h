// impls/lse_renorm/cuda/renorm_bwd_params.h — the parameter block of lse_renorm/cuda's backward
// row kernels (the autograd of o = rd(o_ns * w), w = sigmoid(lse_ns - sigma),
// lse = logaddexp(lse_ns, sigma)) and their launcher. Plain C++: the host fills it, the .cu
// launchers pass it by value.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace sinkbench::lse_renorm_cuda {

struct RenormBwdParams {
  // Saved activations of the sink-less pass.
  const void* o_ns = nullptr;     // [total_q, Hq, D], case dtype
  const float* lse_ns = nullptr;  // fp32, Layout::lse_offset order
  const float* sinks = nullptr;   // [Hq] dtype-exact sinks (never null here)
  // Incoming gradients of the renormed outputs.
  const void* d_o = nullptr;          // [total_q, Hq, D], case dtype
  const float* maybe_dlse = nullptr;  // fp32, lse order; nullptr: none
  // Outputs: the sink-less pass's incoming gradients, the sink's per-row terms and gradient.
  void* d_o_ns = nullptr;                 // [total_q, Hq, D], case dtype: rd(do * w)
  float* dlse_ns = nullptr;               // fp32, lse order: g_w w (1 - w) + dlse w
  float* dsigma_rows = nullptr;           // fp32, lse order: -g_w w (1 - w) + dlse (1 - w)
  float* dsinks = nullptr;                // [Hq] fp32: the rows' terms summed in a fixed order
  const int64_t* cu_seqlens_q = nullptr;  // num_seqs + 1 prefix sums (device memory)
  // Element strides shared by o_ns, do and do_ns (packed: Hq * D and D).
  int64_t row_stride = 0;
  int64_t head_stride = 0;
  // lse element of (seq s, head h, row i) = s * lse_seq_stride + h * lse_head_stride
  //   + (lse_packed_rows ? cu_seqlens_q[s] + i : i).
  int64_t lse_seq_stride = 0;
  int64_t lse_head_stride = 0;
  bool lse_packed_rows = false;
  int num_seqs = 0;          // grid z
  int heads_q = 0;           // grid y
  int head_dim = 0;          // D (one warp walks a row's D elements)
  int64_t max_seqlen_q = 0;  // sizes grid x
};

// The row kernel, then the per-head sum into dsinks; queued on `stream`. Returns the launch
// error. One instantiation per dtype (renorm_bwd_{bf16,fp16}.cu).
template <DType T>
cudaError_t launch_renorm_bwd(const RenormBwdParams& p, cudaStream_t stream);

}  // namespace sinkbench::lse_renorm_cuda
