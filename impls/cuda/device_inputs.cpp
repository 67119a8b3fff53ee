// impls/cuda/device_inputs.cpp — a case's input tensors generated in device memory by the GPU
// twin of the generator (cases/cuda), with an optional bitwise check against host inputs
// (implementation layer, host code).
#include "impls/cuda/device_inputs.h"

#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "cases/cuda/generate_cuda.h"
#include "core/error.h"

namespace sinkbench::cuda {

bool generate_input(const CaseSpec& c, uint32_t tag, int64_t count, DeviceBuffer& buf,
                    const Tensor* host) {
  cuda_gen::GenParams g;
  g.out = buf.get();
  g.count = count;
  g.seed = c.seed;
  g.tag = tag;
  g.input = int(c.input);
  g.head_dim = c.head_dim;
  g.dtype = c.dtype;
  SB_CUDA(cuda_gen::launch_generate(g, nullptr));
  SB_CUDA(cudaDeviceSynchronize());
  if (host == nullptr || count == 0) return false;
  if (host->numel() != count || host->dtype() != c.dtype)
    throw InternalError(
        fmt::format("device inputs: tensor {} does not match the case layout", host->describe()));
  const size_t es = size_t(dtype_size(c.dtype));
  const auto* want = static_cast<const unsigned char*>(host->data());
  bool same = true;
  if (size_t(count) * es <= (size_t(16) << 20)) {
    std::vector<unsigned char> got(size_t(count) * es);
    SB_CUDA(cudaMemcpy(got.data(), buf.get(), got.size(), cudaMemcpyDeviceToHost));
    same = std::memcmp(got.data(), want, got.size()) == 0;
  } else {
    constexpr int kSamples = 4096;
    for (int s = 0; s < kSamples && same; ++s) {
      const int64_t i = s == kSamples - 1 ? count - 1 : int64_t(double(s) / kSamples * count);
      uint32_t got = 0;
      SB_CUDA(cudaMemcpy(&got, static_cast<const char*>(buf.get()) + size_t(i) * es, es,
                         cudaMemcpyDeviceToHost));
      same = std::memcmp(&got, want + size_t(i) * es, es) == 0;
    }
  }
  if (!same) buf.upload(host->data(), size_t(count) * es);
  return !same;
}

}  // namespace sinkbench::cuda
