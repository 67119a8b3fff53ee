// impls/paged/cuda/paged_gather.cu — launcher of eager_paged/cuda's gather kernel: picks the copy
// unit (16, 4 or 2 bytes) from the row size and strides, so any head dim works and the usual ones
// (Hkv * D a multiple of 8) move 16 bytes per load.
#include "impls/paged/cuda/paged_gather_kernel.cuh"

namespace sinkbench::eager_paged_cuda {

namespace {

// Every offset the kernel forms is a multiple of each of these (in 16-bit elements), so a unit
// of `elems` elements is aligned when all of them are (cudaMalloc bases are 256-byte aligned).
bool unit_fits(const GatherParams& p, int64_t elems) {
  return p.row_elems % elems == 0 && p.slot_stride % elems == 0 && p.page_stride % elems == 0 &&
         p.out_row_stride % elems == 0;
}

template <class Vec>
cudaError_t launch(const GatherParams& p, cudaStream_t stream) {
  const int64_t ctas = (p.total_k + kGatherKeysPerCta - 1) / kGatherKeysPerCta;
  if (ctas > int64_t(0x7fffffff)) return cudaErrorInvalidConfiguration;
  paged_gather_kernel<Vec><<<unsigned(ctas), kGatherThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t launch_paged_gather(const GatherParams& p, cudaStream_t stream) {
  if (p.total_k == 0) return cudaSuccess;
  if (p.num_seqs <= 0 || p.page_size <= 0 || p.row_elems <= 0) return cudaErrorInvalidValue;
  if (unit_fits(p, 8)) return launch<uint4>(p, stream);
  if (unit_fits(p, 2)) return launch<uint32_t>(p, stream);
  return launch<uint16_t>(p, stream);
}

}  // namespace sinkbench::eager_paged_cuda
