// bench/device_peaks.cpp — measures the copy bandwidth and bf16 GEMM rate of bench/device_peaks.h.
// Both are timed like the benchmarks they judge: CUDA events around the operation alone, warm-up
// first, the median of many (one slow iteration, e.g. a clock ramp, does not move it).
#include "bench/device_peaks.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "impls/cuda/cuda_util.h"

namespace sinkbench {
namespace {

// 1 GiB: far past any L2 (50 MiB on H100), long enough (~0.7 ms at 3 TB/s) that event
// resolution (~0.5 us) is noise.
constexpr int64_t kCopyBytes = int64_t(1) << 30;
constexpr int kCopyIterations = 25;
// 8192^3: 1.1 TFLOP per call (~2 ms), large enough that cuBLAS runs its best tile at full
// occupancy and launch overhead vanishes; operands 128 MiB each.
constexpr int64_t kGemmSize = 8192;
constexpr int kGemmIterations = 20;
constexpr int kWarmup = 3;

void check_cublas(cublasStatus_t st, const char* what) {
  if (st == CUBLAS_STATUS_SUCCESS) return;
  throw InternalError(
      fmt::format("{} failed: {} ({})", what, cublasGetStatusName(st), cublasGetStatusString(st)));
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Times `op` (enqueued on the default stream) with CUDA events, `iterations` times after
// kWarmup untimed calls; returns the median seconds.
template <class Op>
double time_median(int iterations, Op op) {
  for (int i = 0; i < kWarmup; ++i)
    op();
  SB_CUDA(cudaDeviceSynchronize());
  std::vector<double> times;
  cuda::EventTimer timer;
  for (int i = 0; i < iterations; ++i) {
    timer.start();
    op();
    timer.stop();
    times.push_back(timer.seconds());
  }
  SB_CUDA(cudaGetLastError());
  return median(std::move(times));
}

void measure_copy(DevicePeaks& p) {
  cuda::DeviceBuffer src{size_t(kCopyBytes)}, dst{size_t(kCopyBytes)};
  SB_CUDA(cudaMemset(src.get(), 0x5A, src.bytes()));  // touched pages, defined contents
  SB_CUDA(cudaMemset(dst.get(), 0, dst.bytes()));
  p.copy_bytes = kCopyBytes;
  p.copy_iterations = kCopyIterations;
  p.copy_median_s = time_median(kCopyIterations, [&] {
    SB_CUDA(cudaMemcpyAsync(dst.get(), src.get(), src.bytes(), cudaMemcpyDeviceToDevice, nullptr));
  });
  p.copy_gbs = 2.0 * double(kCopyBytes) / p.copy_median_s * 1e-9;
}

// Operands hold bf16 values spread over [-1, 1) (zeros would let the tensor cores idle at lower
// power and flatter the rate); A and B share one pattern, which does not change the work.
std::vector<uint16_t> bf16_pattern(int64_t count) {
  std::vector<uint16_t> v(static_cast<size_t>(count));
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto& e : v) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const float f = float(int64_t(x >> 40) - (int64_t(1) << 23)) / float(int64_t(1) << 23);
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    e = uint16_t(bits >> 16);  // truncation to bf16: any value in range will do
  }
  return v;
}

void measure_gemm(DevicePeaks& p) {
  const int64_t n = kGemmSize, elems = n * n;
  const std::vector<uint16_t> host = bf16_pattern(elems);
  cuda::DeviceBuffer a(size_t(elems) * 2), b(size_t(elems) * 2), c(size_t(elems) * 2);
  a.upload(host.data(), a.bytes());
  b.upload(host.data(), b.bytes());
  cublasHandle_t h = nullptr;
  check_cublas(cublasCreate(&h), "cublasCreate");
  struct Destroy {
    cublasHandle_t h;
    ~Destroy() { cublasDestroy(h); }
  } destroy{h};
  check_cublas(cublasSetStream(h, nullptr), "cublasSetStream");
  const float one = 1.f, zero = 0.f;
  const int dim = int(n);
  p.gemm_m = p.gemm_n = p.gemm_k = n;
  p.gemm_iterations = kGemmIterations;
  p.gemm_kind = "cublasGemmEx bf16 x bf16 -> bf16, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT";
  p.gemm_median_s = time_median(kGemmIterations, [&] {
    check_cublas(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, dim, dim, dim, &one, a.get(),
                              CUDA_R_16BF, dim, b.get(), CUDA_R_16BF, dim, &zero, c.get(),
                              CUDA_R_16BF, dim, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                 "cublasGemmEx (bf16, 8192^3)");
  });
  p.gemm_tflops = 2.0 * double(n) * double(n) * double(n) / p.gemm_median_s * 1e-12;
}

DevicePeaks measure(int ordinal) {
  DevicePeaks p;
  p.device = query_device(ordinal);
  if (!p.device.present) return unmeasured_peaks("no GPU: " + p.device.reason);
  const char* step = "copy bandwidth";
  try {
    measure_copy(p);
    step = "bf16 GEMM rate";
    measure_gemm(p);
    p.measured = true;
    // cuBLAS can leave a harmless error from an internal query as the runtime's last error; the
    // next launch check would take it for its own (seen on CUDA 13 after cublasGemmEx).
    cudaGetLastError();
  } catch (const std::exception& e) {
    cudaGetLastError();  // as above: leave no stale error behind for the caller's next check
    DevicePeaks failed = unmeasured_peaks(fmt::format("measuring the {}: {}", step, e.what()));
    failed.device = p.device;
    return failed;
  }
  return p;
}

}  // namespace

const DevicePeaks& measure_device_peaks() {
  static std::mutex mu;
  static std::map<int, DevicePeaks> cache;  // node-based: references stay valid
  int ordinal = 0;
  if (const cudaError_t e = cudaGetDevice(&ordinal); e != cudaSuccess) {
    cudaGetLastError();
    static const DevicePeaks none =
        unmeasured_peaks(std::string("no GPU: cudaGetDevice: ") + cudaGetErrorString(e));
    return none;
  }
  const std::lock_guard lock(mu);
  auto it = cache.find(ordinal);
  if (it == cache.end()) it = cache.emplace(ordinal, measure(ordinal)).first;
  return it->second;
}

}  // namespace sinkbench
