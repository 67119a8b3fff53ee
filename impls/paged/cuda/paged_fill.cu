// impls/paged/cuda/paged_fill.cu — the pool fill of paged_fill.h: every 16-byte chunk of a packed
// K/V row copied to its slot in the pages (grid-stride loop; consecutive threads take consecutive
// chunks of a row, so reads and writes coalesce within a row).
#include <cuda_runtime.h>

#include "impls/paged/cuda/paged_fill.h"

namespace sinkbench::flash_paged_cuda {

namespace {

__global__ void fill_pages_kernel(const __grid_constant__ FillParams p) {
  const int64_t vecs = p.row_elems / 8;
  const int64_t n = p.rows * vecs;
  const auto* ks = static_cast<const uint4*>(p.k_packed);
  const auto* vs = static_cast<const uint4*>(p.v_packed);
  auto* kd = static_cast<uint4*>(p.k_pages);
  auto* vd = static_cast<uint4*>(p.v_pages);
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / vecs, c = i % vecs;
    const int64_t dst = p.slot_offset[r] / 8 + c;
    kd[dst] = ks[i];
    vd[dst] = vs[i];
  }
}

}  // namespace

cudaError_t launch_fill_pages(const FillParams& p, cudaStream_t stream) {
  if (p.row_elems % 8 != 0) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  const int64_t n = p.rows * (p.row_elems / 8);
  const int64_t blocks = (n + 255) / 256 < 65536 ? (n + 255) / 256 : 65536;
  fill_pages_kernel<<<unsigned(blocks), 256, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::flash_paged_cuda
