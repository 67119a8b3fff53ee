// impls/paged/cuda/paged_gather_kernel.cuh — eager_paged/cuda device code: K and V copied from
// the page pools [num_pages, page_size, Hkv, D] through the block table into the packed layout
// [total_k, Hkv, D] that the eager path's GEMMs read. A pure bit copy: no arithmetic, so the
// gathered K/V are exactly the bits gather_pages produces on the CPU. Included by
// paged_gather.cu.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "impls/paged/cuda/paged_gather_params.h"

namespace sinkbench::eager_paged_cuda {

// One CTA per kGatherKeysPerCta consecutive packed keys. Phase 1: one thread per key finds its
// sequence (binary search over cu_seqlens_k: the largest s with cu_seqlens_k[s] <= n, which
// steps over empty sequences) and its page slot, and leaves the row's element offset in shared
// memory. Phase 2: the whole CTA copies the rows in Vec units; consecutive threads take
// consecutive units of a row, so reads within a slot and writes within a packed row coalesce.
template <class Vec>
__global__ void __launch_bounds__(kGatherThreads)
    paged_gather_kernel(const __grid_constant__ GatherParams p) {
  __shared__ int64_t src_row[kGatherKeysPerCta];  // element offset of each key's row in the pools
  const int64_t first = int64_t(blockIdx.x) * kGatherKeysPerCta;
  const int64_t left = p.total_k - first;
  const int keys = left < kGatherKeysPerCta ? int(left) : kGatherKeysPerCta;
  if (int(threadIdx.x) < keys) {
    const int64_t n = first + threadIdx.x;
    int lo = 0, hi = p.num_seqs - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) / 2;
      if (p.cu_seqlens_k[mid] <= n) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    const int64_t j = n - p.cu_seqlens_k[lo];
    const int64_t page = p.block_table[int64_t(lo) * p.block_table_stride + j / p.page_size];
    src_row[threadIdx.x] = page * p.page_stride + (j % p.page_size) * p.slot_stride;
  }
  __syncthreads();

  constexpr int64_t kElemsPerVec = int64_t(sizeof(Vec)) / 2;  // 16-bit elements per unit
  const int64_t vecs = p.row_elems / kElemsPerVec;
  const int64_t units = int64_t(keys) * vecs;
  const Vec* k_in = static_cast<const Vec*>(p.k_pages);
  const Vec* v_in = static_cast<const Vec*>(p.v_pages);
  Vec* k_out = static_cast<Vec*>(p.k_out);
  Vec* v_out = static_cast<Vec*>(p.v_out);
  for (int64_t idx = threadIdx.x; idx < units; idx += kGatherThreads) {
    const int64_t r = idx / vecs;
    const int64_t c = idx - r * vecs;
    const int64_t src = src_row[r] / kElemsPerVec + c;
    const int64_t dst = (first + r) * (p.out_row_stride / kElemsPerVec) + c;
    k_out[dst] = k_in[src];
    v_out[dst] = v_in[src];
  }
}

}  // namespace sinkbench::eager_paged_cuda
