// impls/paged/cuda/paged_fwd_params.h — the one parameter block of flash_paged/cuda (split-KV
// decode over a paged KV cache) and its launcher declaration. Plain C++ (only cuda_runtime_api.h):
// the host .cpp fills it, the .cu launchers pass it by value as a __grid_constant__ parameter.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cases/mask.h"
#include "core/dtype.h"

namespace sinkbench::flash_paged_cuda {

// Rows of one CTA: (query heads of a KV group) x (query rows of a sequence) at most this many.
inline constexpr int kMaxRowsPerCta = 128;
// Query rows per sequence the decode kernel takes (decode and speculative decode).
inline constexpr int64_t kMaxDecodeRows = 8;
// Split-KV partials per sequence at most (sizes the partial buffers).
inline constexpr int kMaxSplits = 16;
// Threads of a split CTA (4 warps).
inline constexpr int kSplitThreads = 128;

struct PagedParams {
  // Query, in the case dtype (bf16 or fp16 bits), packed layout [total_q, Hq, D].
  const void* q = nullptr;
  // Page pools [num_pages, page_size, Hkv, D] in the case dtype (impls/paged/paged.h PagedKV).
  const void* k_pages = nullptr;
  const void* v_pages = nullptr;
  // Block tables, int32, row s at block_table + s * block_table_stride: logical page t of
  // sequence s is physical page block_table[s * stride + t]. Validated on the host before launch.
  const int32_t* block_table = nullptr;
  // Learned sink per query head (fp32 holding a dtype-exact value); nullptr: no sink (-inf).
  const float* maybe_sinks = nullptr;
  // Prefix sums of the per-sequence query and key lengths, num_seqs + 1 entries (device memory).
  const int64_t* cu_seqlens_q = nullptr;
  const int64_t* cu_seqlens_k = nullptr;
  // Split-KV partials per sequence, num_seqs entries in 1..kMaxSplits (device memory).
  const int32_t* num_splits = nullptr;

  // Outputs: o [total_q, Hq, D] in the dtype; lse fp32, sink-inclusive, indexed as below.
  void* o = nullptr;
  float* lse = nullptr;
  // Split partials (fp32): normalised o_k [max_splits, total_q, Hq, D] and sink-less lse_k
  // [max_splits, total_q, Hq]; written only for sequences with more than one split.
  float* part_o = nullptr;
  float* part_lse = nullptr;

  // Element strides (int64: pools of millions of pages times Hkv * D overflow int32).
  int64_t q_row_stride = 0;        // between tokens of q (Hq * D)
  int64_t q_head_stride = 0;       // between query heads (D)
  int64_t o_row_stride = 0;        // between tokens of o (Hq * D)
  int64_t o_head_stride = 0;       // between query heads of o (D)
  int64_t page_stride = 0;         // between physical pages of a pool (page_size * Hkv * D)
  int64_t slot_stride = 0;         // between slots (keys) of a page (Hkv * D)
  int64_t kv_head_stride = 0;      // between KV heads within a slot (D)
  int64_t block_table_stride = 0;  // between sequences' rows of block_table
  int64_t part_split_stride = 0;   // between splits of part_o (total_q * Hq * D)
  // lse element of (seq s, head h, row i) = s * lse_seq_stride + h * lse_head_stride
  //   + (lse_packed_rows ? cu_seqlens_q[s] + i : i)  (cases/case_spec.h Layout::lse_offset).
  int64_t lse_seq_stride = 0;
  int64_t lse_head_stride = 0;
  bool lse_packed_rows = false;

  int num_seqs = 0;     // sequences in the batch (grid z of the split kernel)
  int heads_q = 0;      // Hq
  int heads_kv = 0;     // Hkv (grid y); query head h reads KV head h / (Hq / Hkv)
  int head_dim = 0;     // D; must equal the instantiation's head dim
  int page_size = 0;    // keys per page, 16..256
  int max_splits = 0;   // largest entry of num_splits (grid x of the split kernel)
  int max_rows = 0;     // (Hq / Hkv) * longest Sq: rows of the largest CTA (sizes smem)
  int64_t total_q = 0;  // query rows of the batch (combine grid)

  MaskRule mask;    // visibility rule of cases/mask.h (bottom-right aligned)
  float scale = 0;  // logit scale (fp32, as CaseSpec::scale_f32)
};

// One instantiation per (dtype, head dim), each in its own .cu file: queues the split kernel and
// then the combine kernel on `stream`. Returns the first launch error (cudaSuccess when queued);
// does not sync.
template <DType T, int HeadDim>
cudaError_t launch_paged_fwd(const PagedParams& p, cudaStream_t stream);

// Dynamic shared memory of a split CTA with `rows` rows (for the support check).
template <DType T, int HeadDim>
int paged_smem_bytes(int rows);

}  // namespace sinkbench::flash_paged_cuda
