// cases/cuda/generate_cuda.cu — device twin of input_value() + round_to() in cases/generate.cpp.
// Compiled with -fmad=false (cases/cuda via impls/cuda/CMakeLists.txt): an FMA contraction in
// the double-precision normal draw would change bits. tests/impls/cuda/generate_cuda_test.cpp
// checks every distribution and dtype bit for bit against the CPU generator.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "cases/case_spec.h"
#include "cases/cuda/generate_cuda.h"
#include "cases/rng.h"

namespace sinkbench::cuda_gen {
namespace {

// Mirrors input_value(); keep the two in step (the bitwise test fails if they drift).
__device__ float value_at(const GenParams& p, int64_t index) {
  const auto dist = static_cast<InputDist>(p.input);
  double x = dist == InputDist::uniform ? 2.0 * rng::uniform(p.seed, p.tag, uint64_t(index)) - 1.0
                                        : rng::normal(p.seed, p.tag, uint64_t(index));
  if (dist == InputDist::outliers) {
    const uint32_t offset = rng::philox(p.seed, rng::kOutlierChannels, p.tag).w[0] % 16u;
    if (uint32_t(index % p.head_dim) % 16u == offset) x *= 20.0;
  } else if (dist == InputDist::large_logits && p.tag != rng::kV) {
    x *= 4.0;
  }
  return float(x);
}

__global__ void generate_kernel(const __grid_constant__ GenParams p) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < p.count; i += stride) {
    const float x = value_at(p, i);
    switch (p.dtype) {
      case DType::bf16: {
        const __nv_bfloat16 b = __float2bfloat16_rn(x);
        static_cast<__nv_bfloat16*>(p.out)[i] = b;
        break;
      }
      case DType::f16: {
        const __half b = __float2half_rn(x);
        static_cast<__half*>(p.out)[i] = b;
        break;
      }
      default:
        static_cast<float*>(p.out)[i] = x;
        break;
    }
  }
}

}  // namespace

cudaError_t launch_generate(const GenParams& p, cudaStream_t stream) {
  if (p.count <= 0) return cudaSuccess;
  constexpr int kThreads = 256;
  const int64_t blocks = (p.count + kThreads - 1) / kThreads;
  const unsigned grid = unsigned(blocks < 132 * 64 ? blocks : 132 * 64);
  generate_kernel<<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sinkbench::cuda_gen
