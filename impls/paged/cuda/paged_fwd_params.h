// impls/paged/cuda/paged_fwd_params.h — the parameter block of flash_paged/cuda (split-KV
// decode over a paged KV cache; the attention base of impls/cuda/attn_params.h, extended) and its
// launcher declaration. Plain C++ (only cuda_runtime_api.h):
// the host .cpp fills it, the .cu launchers pass it by value as a __grid_constant__ parameter.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"
#include "impls/cuda/attn_params.h"

namespace sinkbench::flash_paged_cuda {

// Rows of one CTA: 16 (query head, query row) pairs of a KV group, one MMA row strip. A group
// with more rows (GQA x Sq > 16: speculative decode, chunked prefill) takes several CTAs that read
// the same K/V tiles, launched next to each other so the repeats come from L2.
inline constexpr int kRowsPerCta = 16;
// Split-KV partials per sequence at most (sizes the partial buffers).
inline constexpr int kMaxSplits = 128;
// Threads of a split CTA: 4 warps, each taking a quarter of every key tile.
inline constexpr int kSplitThreads = 128;

// flash_paged/cuda: the base block with k and v as page pools [num_pages, page_size, Hkv, D]
// (impls/paged/paged.h PagedKV; k_row_stride = v_row_stride: between a page's slots, Hkv * D;
// k_head_stride = v_head_stride: D), plus the block tables, the split plan and its partials.
struct PagedParams : cuda::AttnParams {
  // Block tables, int32, row s at block_table + s * block_table_stride: logical page t of
  // sequence s is physical page block_table[s * stride + t]. Validated on the host before launch.
  const int32_t* block_table = nullptr;
  // Split-KV partials per sequence, num_seqs entries in 1..kMaxSplits (device memory).
  const int32_t* num_splits = nullptr;
  // Keys per split of each sequence, num_seqs entries (device memory): split k covers keys
  // [split_begin + k * split_keys, min(sk, split_begin + (k + 1) * split_keys)), both multiples
  // of the kernel's key tile, so no tile straddles two splits.
  const int64_t* split_begin = nullptr;
  const int64_t* split_keys = nullptr;
  // Split partials (fp32): normalised o_k [max_splits, total_q, Hq, D] and sink-less lse_k
  // [max_splits, total_q, Hq]; written only for sequences with more than one split.
  float* part_o = nullptr;
  float* part_lse = nullptr;

  int64_t page_stride = 0;         // between physical pages of a pool (page_size * Hkv * D)
  int64_t block_table_stride = 0;  // between sequences' rows of block_table
  int64_t part_split_stride = 0;   // between splits of part_o (total_q * Hq * D)

  int page_size = 0;    // keys per page, 16..256
  int max_splits = 0;   // largest entry of num_splits (grid y of the split kernel)
  int max_rows = 0;     // (Hq / Hkv) * longest Sq: rows of the largest group (grid x: / 16)
  int64_t total_q = 0;  // query rows of the batch (combine grid)
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
