// impls/eager_concat/cuda/eager_bwd_fp16.cu — the fp16 instantiation of eager_concat/cuda's
// backward row kernels (one per file: nvcc compiles the files in parallel and rebuilds stay small).
#include "impls/eager_concat/cuda/eager_bwd_kernel.cuh"

namespace sinkbench::eager_cuda {

template cudaError_t launch_softmax_bwd<DType::f16>(const SoftmaxBwdParams&, cudaStream_t);
template cudaError_t launch_group_sum<DType::f16>(const GroupSumParams&, cudaStream_t);
template cudaError_t launch_dsinks_sum<DType::f16>(const DsinksParams&, cudaStream_t);

}  // namespace sinkbench::eager_cuda
