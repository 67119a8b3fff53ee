// impls/tiled/cuda/tiled_bwd_params.h — the parameter block of the tiled/cuda backward pass and
// its launcher declaration. Plain C++ (no CUDA headers beyond cuda_runtime_api.h): the host side
// (tiled_cuda.cpp) fills it, the .cu launchers pass it by value as a __grid_constant__ parameter.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cases/mask.h"
#include "core/dtype.h"

namespace sinkbench::tiled_cuda {

struct BwdParams {
  // Forward inputs and outputs, in the case dtype (bf16 or fp16 bits), packed layout of
  // cases/case_spec.h Layout.
  const void* q = nullptr;     // [total_q, Hq, D]
  const void* k = nullptr;     // [total_k, Hkv, D]
  const void* v = nullptr;     // [total_k, Hkv, D]
  const void* o = nullptr;     // [total_q, Hq, D]: the forward's rounded output (D uses it)
  const float* lse = nullptr;  // fp32, sink-inclusive, indexed as the lse strides below
  // Learned sink per query head (fp32 holding a dtype-exact value); nullptr: no sink.
  const float* maybe_sinks = nullptr;
  // Incoming gradients.
  const void* d_o = nullptr;          // [total_q, Hq, D], case dtype: dL/do
  const float* maybe_dlse = nullptr;  // fp32, lse layout: dL/dlse; nullptr: none
  // Outputs.
  void* dq = nullptr;          // [total_q, Hq, D], case dtype
  void* dk = nullptr;          // [total_k, Hkv, D], case dtype, summed over the GQA group
  void* dv = nullptr;          // [total_k, Hkv, D], case dtype, summed over the GQA group
  float* dsinks = nullptr;     // [Hq] fp32; written only where maybe_sinks is set
  float* row_delta = nullptr;  // scratch, fp32, lse layout: D_i = do_i . o_i - dlse_i
  // Prefix sums of the per-sequence lengths, num_seqs + 1 entries each (device memory).
  const int64_t* cu_seqlens_q = nullptr;
  const int64_t* cu_seqlens_k = nullptr;

  // Element strides (int64: long packed batches overflow int32). Packed: row = heads * D.
  int64_t q_row_stride = 0;   // between consecutive tokens of q, o, do and dq (Hq * D)
  int64_t q_head_stride = 0;  // between query heads of q, o, do and dq (D)
  int64_t k_row_stride = 0;   // between consecutive tokens of k, v, dk and dv (Hkv * D)
  int64_t k_head_stride = 0;  // between KV heads of k, v, dk and dv (D)
  // lse, dlse and row_delta element of (seq s, head h, row i) = s * lse_seq_stride
  //   + h * lse_head_stride + (lse_packed_rows ? cu_seqlens_q[s] + i : i).
  int64_t lse_seq_stride = 0;    // Hq * Sq for fixed lengths, 0 for varlen
  int64_t lse_head_stride = 0;   // Sq for fixed lengths, total_q for varlen
  bool lse_packed_rows = false;  // varlen: rows are numbered across the packed batch

  int num_seqs = 0;          // sequences in the batch (grid z)
  int heads_q = 0;           // Hq
  int heads_kv = 0;          // Hkv; query head h reads KV head h / (Hq / Hkv)
  int head_dim = 0;          // D; must equal the instantiation's head dim
  int64_t max_seqlen_q = 0;  // longest Sq of the batch: sizes the dq and row-delta grids
  int64_t max_seqlen_k = 0;  // longest Sk of the batch: sizes the dk/dv grid

  MaskRule mask;         // visibility rule of cases/mask.h (bottom-right aligned)
  float scale = 0;       // logit scale (fp32, as CaseSpec::scale_f32)
  float scale_log2 = 0;  // scale * log2(e): P is recomputed in base 2
};

// The backward pass of one (dtype, head dim) instantiation, each in its own .cu file: the
// row-delta kernel, then the dk/dv kernel (on `stream`) beside the dq kernel (on a side stream
// forked from and joined back into `stream`), then (with a sink) the dsinks reduction; all of it
// is ordered after earlier work on `stream` and before later work. Returns the first launch
// error; does not sync.
template <DType T, int HeadDim>
cudaError_t launch_bwd(const BwdParams& p, cudaStream_t stream);

}  // namespace sinkbench::tiled_cuda
