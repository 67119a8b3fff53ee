// impls/paged/cuda/paged_fwd_bf16_hd64.cu — the bf16, head dim 64 instantiation of flash_paged/cuda
// (split and combine kernels); one per file so nvcc compiles them in parallel.
#include "impls/paged/cuda/paged_fwd_kernel.cuh"

namespace sinkbench::flash_paged_cuda {

template cudaError_t launch_paged_fwd<DType::bf16, 64>(const PagedParams&, cudaStream_t);
template int paged_split_ctas_per_sm<DType::bf16, 64>();

}  // namespace sinkbench::flash_paged_cuda
