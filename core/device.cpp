// core/device.cpp — device query through the CUDA runtime when sinkbench is built with CUDA.
#include "core/device.h"

#include <fmt/format.h>

#ifdef SINKBENCH_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace sinkbench {

bool built_with_cuda() {
#ifdef SINKBENCH_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

DeviceInfo query_device(int index) {
  DeviceInfo d;
  d.index = index;
#ifndef SINKBENCH_HAVE_CUDA
  d.reason = "built without CUDA (SINKBENCH_CUDA=OFF or no nvcc at configure time)";
#else
  cudaRuntimeGetVersion(&d.runtime_version);
  if (cudaDriverGetVersion(&d.driver_version) != cudaSuccess || d.driver_version == 0) {
    d.reason = "no CUDA driver loaded";
    return d;
  }
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    d.reason = std::string("no usable CUDA device: ") + cudaGetErrorString(err);
    cudaGetLastError();
    return d;
  }
  if (index >= count) {
    d.reason = fmt::format("device {} requested, {} visible", index, count);
    return d;
  }
  cudaDeviceProp p{};
  if ((err = cudaGetDeviceProperties(&p, index)) != cudaSuccess) {
    d.reason = std::string("cudaGetDeviceProperties failed: ") + cudaGetErrorString(err);
    return d;
  }
  auto attr = [&](cudaDeviceAttr a) {
    int v = 0;
    cudaDeviceGetAttribute(&v, a, index);
    return v;
  };
  d.present = true;
  d.name = p.name;
  d.sm_major = p.major;
  d.sm_minor = p.minor;
  d.sm_count = p.multiProcessorCount;
  d.sm_clock_mhz = attr(cudaDevAttrClockRate) / 1000.0;
  d.mem_clock_mhz = attr(cudaDevAttrMemoryClockRate) / 1000.0;
  d.mem_bus_bits = attr(cudaDevAttrGlobalMemoryBusWidth);
  d.mem_bandwidth_gbs = 2.0 * d.mem_clock_mhz * 1e6 * (d.mem_bus_bits / 8.0) / 1e9;
  d.l2_bytes = p.l2CacheSize;
  d.mem_bytes = int64_t(p.totalGlobalMem);
#endif
  return d;
}

std::string describe_device(const DeviceInfo& d) {
  if (!d.present) return "none (" + d.reason + ")";
  return fmt::format("{} (sm_{}{}, {} SMs, {:.0f} MHz, {:.0f} GB/s peak, L2 {} MiB, {} GiB)",
                     d.name, d.sm_major, d.sm_minor, d.sm_count, d.sm_clock_mhz,
                     d.mem_bandwidth_gbs, d.l2_bytes >> 20, d.mem_bytes >> 30);
}

}  // namespace sinkbench
