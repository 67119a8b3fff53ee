// impls/paged/cuda/paged_gather_params.h — the parameter block of eager_paged/cuda's gather kernel
// (K and V copied from the page pools through the block table into the packed layout) and its
// launcher. Plain C++: the host fills it, the .cu launcher passes it by value (__grid_constant__).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace sinkbench::eager_paged_cuda {

// Packed keys one gather CTA copies (each key is one row of Hkv * D elements of K and of V).
inline constexpr int kGatherKeysPerCta = 64;
// Threads of a gather CTA.
inline constexpr int kGatherThreads = 256;

struct GatherParams {
  // Page pools [num_pages, page_size, Hkv, D] of 16-bit elements (bf16 or fp16 bits: the copy
  // never interprets them, so one kernel serves both dtypes).
  const void* k_pages = nullptr;
  const void* v_pages = nullptr;
  // Packed outputs [total_k, Hkv, D], the layout of Inputs::k / Inputs::v.
  void* k_out = nullptr;
  void* v_out = nullptr;
  // Block tables, int32, row s at block_table + s * block_table_stride: logical page t of
  // sequence s is physical page block_table[s * stride + t]. Validated on the host before launch.
  const int32_t* block_table = nullptr;
  // Prefix sums of the per-sequence key counts, num_seqs + 1 entries (device memory): packed key
  // n belongs to the sequence s with cu_seqlens_k[s] <= n < cu_seqlens_k[s + 1].
  const int64_t* cu_seqlens_k = nullptr;

  // Element strides (int64: a pool of millions of pages times Hkv * D overflows int32).
  int64_t page_stride = 0;         // between physical pages of a pool (page_size * Hkv * D)
  int64_t slot_stride = 0;         // between slots (keys) of a page (Hkv * D)
  int64_t out_row_stride = 0;      // between packed keys of k_out / v_out (Hkv * D)
  int64_t block_table_stride = 0;  // between sequences' rows of block_table
  int64_t row_elems = 0;           // contiguous elements of one key in a slot and in a row (Hkv*D)
  int64_t total_k = 0;             // packed keys of the batch (cu_seqlens_k[num_seqs])

  int num_seqs = 0;   // sequences in the batch (entries of cu_seqlens_k minus one)
  int page_size = 0;  // keys per page, 16..256
};

// Queues the gather of K and V on `stream`: ceil(total_k / kGatherKeysPerCta) CTAs, copying each
// key's row in the widest of 16-, 4- or 2-byte units that divides its size. Returns the launch
// error (cudaSuccess when queued; nothing is queued when total_k is 0); does not sync.
cudaError_t launch_paged_gather(const GatherParams& p, cudaStream_t stream);

}  // namespace sinkbench::eager_paged_cuda
