// impls/lse_renorm/cuda/renorm_params.h — the parameter block of lse_renorm/cuda's renorm kernel
// (o_ns * factor(lse_ns, sigma) in place, lse made sink-inclusive) and its launcher. Plain C++:
// the host fills it, the .cu launchers pass it by value (__grid_constant__).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace sinkbench::lse_renorm_cuda {

struct RenormParams {
  // [total_q, Hq, D] in the case dtype: the sink-less output o_ns on entry, o on exit.
  void* o = nullptr;
  // fp32, Layout::lse_offset order: the sink-less lse_ns on entry, logaddexp(lse_ns, sigma) on
  // exit.
  float* lse = nullptr;
  const float* sinks = nullptr;           // [Hq] dtype-exact sinks (device memory; never null)
  const int64_t* cu_seqlens_q = nullptr;  // num_seqs + 1 prefix sums (device memory)
  int64_t o_row_stride = 0;               // between tokens of o (Hq * D)
  int64_t o_head_stride = 0;              // between heads of o (D)
  // lse element of (seq s, head h, row i) = s * lse_seq_stride + h * lse_head_stride
  //   + (lse_packed_rows ? cu_seqlens_q[s] + i : i), as the tiled kernel's FwdParams.
  int64_t lse_seq_stride = 0;
  int64_t lse_head_stride = 0;
  bool lse_packed_rows = false;
  int num_seqs = 0;          // grid z
  int heads_q = 0;           // grid y
  int head_dim = 0;          // D (any: one warp walks a row's D elements)
  int64_t max_seqlen_q = 0;  // sizes grid x
  // false: factor = 1 / (1 + exp(sigma - lse_ns)) in fp32 (lse_renorm);
  // true: transformers' flex chain of dtype-rounded ops from lse_ns cast to the dtype
  // (lse_renorm-lse_cast; docs/impls/lse_renorm.md).
  bool lse_cast = false;
};

// One instantiation per dtype (bf16, fp16), each in its own .cu file. Returns the launch error.
template <DType T>
cudaError_t launch_renorm(const RenormParams& p, cudaStream_t stream);

}  // namespace sinkbench::lse_renorm_cuda
