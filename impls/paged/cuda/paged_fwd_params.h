// impls/paged/cuda/paged_fwd_params.h — the one parameter block of flash_paged/cuda (split-KV
// decode over a paged KV cache) and its launcher declaration. Plain C++ (only cuda_runtime_api.h):
// the host .cpp fills it, the .cu launchers pass it by value as a __grid_constant__ parameter.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "cases/mask.h"
#include "core/dtype.h"

namespace sinkbench::flash_paged_cuda {

// Rows of one CTA: 16 (query head, query row) pairs of a KV group, one MMA row strip. A group
// with more rows (GQA x Sq > 16: speculative decode, chunked prefill) takes several CTAs that read
// the same K/V tiles, launched next to each other so the repeats come from L2.
inline constexpr int kRowsPerCta = 16;
// Split-KV partials per sequence at most (sizes the partial buffers).
inline constexpr int kMaxSplits = 128;
// Threads of a split CTA: 4 warps, each taking a quarter of every key tile.
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
  // Keys per split of each sequence, num_seqs entries (device memory): split k covers keys
  // [split_begin + k * split_keys, min(sk, split_begin + (k + 1) * split_keys)), both multiples
  // of the kernel's key tile, so no tile straddles two splits.
  const int64_t* split_begin = nullptr;
  const int64_t* split_keys = nullptr;

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

  int num_seqs = 0;     // sequences in the batch (grid z / Hkv of the split kernel)
  int heads_q = 0;      // Hq
  int heads_kv = 0;     // Hkv; query head h reads KV head h / (Hq / Hkv)
  int head_dim = 0;     // D; must equal the instantiation's head dim
  int page_size = 0;    // keys per page, 16..256
  int max_splits = 0;   // largest entry of num_splits (grid y of the split kernel)
  int max_rows = 0;     // (Hq / Hkv) * longest Sq: rows of the largest group (grid x: / 16)
  int64_t total_q = 0;  // query rows of the batch (combine grid)

  MaskRule mask;         // visibility rule of cases/mask.h (bottom-right aligned)
  float scale = 0;       // logit scale (fp32, as CaseSpec::scale_f32)
  float scale_log2 = 0;  // scale * log2(e): the split kernel's softmax runs in base 2
};

// Keys per tile of the split kernel: splits are cut at multiples of it.
inline constexpr int kPagedBlockN = 64;

// One instantiation per (dtype, head dim), each in its own .cu file: queues the split kernel and
// then the combine kernel on `stream`. Returns the first launch error (cudaSuccess when queued);
// does not sync.
template <DType T, int HeadDim>
cudaError_t launch_paged_fwd(const PagedParams& p, cudaStream_t stream);

// Split CTAs resident per SM (the occupancy API: registers and shared memory), for the split
// plan's wave sizing; 1 if the query fails.
template <DType T, int HeadDim>
int paged_split_ctas_per_sm();

}  // namespace sinkbench::flash_paged_cuda
