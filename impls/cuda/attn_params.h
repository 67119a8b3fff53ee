// impls/cuda/attn_params.h — the parameter block every attention kernel's params extend (CUDA
// implementation layer): the tensors of DESIGN §1, their strides, the batch, the mask, the scale
// and the sinks. tiled/cuda's FwdParams and flash_paged/cuda's PagedParams add what their algorithm
// or storage needs; a backward kernel's params extend the forward's. Plain C++ (host .cpp files
// fill it; kernels take the derived block by value as a __grid_constant__ parameter).
#pragma once

#include <cstdint>

#include "cases/mask.h"
#include "core/hd.h"

namespace sinkbench {
struct CaseSpec;  // cases/case_spec.h (not included: nvcc builds this header as C++17)
struct Layout;
}  // namespace sinkbench

namespace sinkbench::cuda {

struct AttnParams {
  // Inputs, in the case dtype (bf16 or fp16 bits).
  const void* q = nullptr;  // [total_q, Hq, D], packed layout of cases/case_spec.h Layout
  // K and V: [total_k, Hkv, D] for packed storage; for paged storage the page pools
  // [num_pages, page_size, Hkv, D] read through a block table (PagedParams).
  const void* k = nullptr;
  const void* v = nullptr;
  // Learned sink per query head (fp32 holding a dtype-exact value); nullptr: no sink (-inf).
  const float* maybe_sinks = nullptr;
  // Prefix sums of the per-sequence lengths, num_seqs + 1 entries each (device memory). Fixed
  // lengths use them too (cu[s] = s * S), so one code path serves both layouts.
  const int64_t* cu_seqlens_q = nullptr;
  const int64_t* cu_seqlens_k = nullptr;

  // Outputs.
  void* o = nullptr;     // [total_q, Hq, D], same dtype as q
  float* lse = nullptr;  // fp32, sink-inclusive, at lse_index() below

  // Element strides (int64: a 131072-token sequence times 64 heads times 128 overflows int32).
  int64_t q_row_stride = 0;   // between consecutive tokens of q (Hq * D when packed)
  int64_t q_head_stride = 0;  // between query heads (D)
  int64_t k_row_stride = 0;   // between consecutive keys of k (Hkv * D; a page's slots when paged)
  int64_t k_head_stride = 0;  // between KV heads (D)
  int64_t v_row_stride = 0;   // likewise for v
  int64_t v_head_stride = 0;
  int64_t o_row_stride = 0;   // between consecutive tokens of o (Hq * D)
  int64_t o_head_stride = 0;  // between query heads of o (D)
  // lse element of (seq s, head h, row i) = s * lse_seq_stride + h * lse_head_stride
  //   + (lse_packed_rows ? cu_seqlens_q[s] + i : i)  (Layout::lse_offset).
  int64_t lse_seq_stride = 0;    // Hq * Sq for fixed lengths, 0 for varlen
  int64_t lse_head_stride = 0;   // Sq for fixed lengths, total_q for varlen
  bool lse_packed_rows = false;  // varlen: rows are numbered across the packed batch

  int num_seqs = 0;  // sequences in the batch
  int heads_q = 0;   // Hq
  int heads_kv = 0;  // Hkv; query head h reads KV head h / (Hq / Hkv)
  int head_dim = 0;  // D; must equal the instantiation's head dim

  MaskRule mask;         // visibility rule of cases/mask.h (bottom-right aligned)
  float scale = 0;       // logit scale (fp32, as CaseSpec::scale_f32)
  float scale_log2 = 0;  // scale * log2(e): the kernels' softmax runs in base 2
};

// Index into p.lse of row i of sequence s (whose first packed row is q0), query head h.
SB_HD int64_t lse_index(const AttnParams& p, int s, int h, int64_t q0, int64_t i) {
  return int64_t(s) * p.lse_seq_stride + int64_t(h) * p.lse_head_stride +
         (p.lse_packed_rows ? q0 + i : i);
}

// Fills everything of the base a case and its packed layout decide: strides of packed q, k, v, o,
// the lse layout, the batch, the mask and the scale. The pointers are the caller's.
void fill_attn_params(AttnParams& p, const CaseSpec& c, const Layout& layout);

}  // namespace sinkbench::cuda
