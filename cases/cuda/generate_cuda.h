// cases/cuda/generate_cuda.h — the GPU twin of the input generator (cases/generate.cpp
// input_value + round_to): same Philox stream, same polynomial normal, built with -fmad=false so
// the bits match the CPU's exactly. Large cases are generated in device memory instead of
// crossing PCIe. Plain C++ header: host code fills GenParams, the .cu launches.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "core/dtype.h"

namespace sinkbench::cuda_gen {

struct GenParams {
  void* out = nullptr;        // count elements of `dtype` (device memory)
  int64_t count = 0;          // elements to generate: indices 0 .. count-1 of the tensor
  uint64_t seed = 0;          // CaseSpec::seed
  uint32_t tag = 0;           // rng::kQ, kK or kV
  int input = 0;              // CaseSpec::input as its integer value (InputDist)
  int head_dim = 0;           // D: outlier channels are index % D
  DType dtype = DType::bf16;  // storage dtype: the value is rounded to it (RNE)
};

// Queues the generator on `stream`; returns the launch error.
cudaError_t launch_generate(const GenParams& p, cudaStream_t stream);

}  // namespace sinkbench::cuda_gen
