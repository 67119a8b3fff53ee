// impls/paged/cuda/paged_fwd_fp16_hd128.cu — the fp16, head dim 128 instantiation of
// flash_paged/cuda (split and combine kernels); one per file so nvcc compiles them in parallel.
#include "impls/paged/cuda/paged_fwd_kernel.cuh"

namespace sinkbench::flash_paged_cuda {

template cudaError_t launch_paged_fwd<DType::f16, 128>(const PagedParams&, cudaStream_t);
template int paged_split_ctas_per_sm<DType::f16, 128>();

}  // namespace sinkbench::flash_paged_cuda
