// bench/device_peaks.h — the measured ceilings that "% of peak" figures are judged against
// (DESIGN §7): device-to-device copy bandwidth (what a memory-bound kernel can stream) and the
// rate of a large cuBLAS bf16 GEMM with fp32 accumulation (what a tensor-core kernel can
// compute), with the sizes and counts used so a stored figure says how it was obtained. Measured,
// not taken from the datasheet: the theoretical HBM figure is never reached by a copy, and the
// dense tensor-core figure depends on clocks under load.
//
// The struct is plain C++ so tables and CPU builds can hold an unmeasured one; the measurement
// (bench/device_peaks.cpp, library sinkbench_device_peaks) exists only in CUDA builds.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "core/device.h"

namespace sinkbench {

struct DevicePeaks {
  bool measured = false;
  std::string reason;  // why not, when !measured
  DeviceInfo device;   // name, SM count, maximum clocks, theoretical bandwidth

  // cudaMemcpyAsync of copy_bytes device to device; the traffic counted is 2 x copy_bytes (each
  // byte read once and written once). Median of copy_iterations event-timed copies after warm-up.
  int64_t copy_bytes = 0;
  int copy_iterations = 0;
  double copy_median_s = std::numeric_limits<double>::quiet_NaN();
  double copy_gbs = std::numeric_limits<double>::quiet_NaN();

  // C = A B with m x k and k x n bf16 operands, bf16 C, fp32 accumulation (cublasGemmEx,
  // CUBLAS_COMPUTE_32F); rate 2 m n k / median over gemm_iterations event-timed calls.
  int64_t gemm_m = 0, gemm_n = 0, gemm_k = 0;
  int gemm_iterations = 0;
  double gemm_median_s = std::numeric_limits<double>::quiet_NaN();
  double gemm_tflops = std::numeric_limits<double>::quiet_NaN();
  std::string gemm_kind;  // e.g. "cublasGemmEx bf16 x bf16 -> bf16, CUBLAS_COMPUTE_32F"
};

// An unmeasured DevicePeaks naming why (CPU build, no GPU, no GPU row in the run).
inline DevicePeaks unmeasured_peaks(std::string reason) {
  DevicePeaks p;
  p.reason = std::move(reason);
  return p;
}

// 100 * value / peak; NaN when the peak is not a positive finite number (unmeasured) or the value
// is not finite, so a missing ceiling never reads as 0%.
inline double percent_of(double value, double peak) {
  if (!(std::isfinite(value) && value >= 0 && std::isfinite(peak) && peak > 0))
    return std::numeric_limits<double>::quiet_NaN();
  return 100.0 * value / peak;
}

// A percentage for printed tables: "41.3", or "-" when NaN (no ceiling, untimed).
inline std::string percent_text(double pct) {
  return std::isfinite(pct) ? fmt::format("{:.1f}", pct) : std::string("-");
}

// One line for table headers and the `peaks` attribute: copy GB/s, GEMM TFLOP/s, the sizes and
// counts behind them and the device, or "not measured: <reason>".
inline std::string describe_peaks(const DevicePeaks& p) {
  if (!p.measured) return "not measured: " + p.reason;
  return fmt::format(
      "copy {:.0f} GB/s ({:.2f} GiB D2D, read + write counted, median of {}); bf16 GEMM {:.0f} "
      "TFLOP/s ({}x{}x{}, fp32 accumulate, median of {}); {}",
      p.copy_gbs, double(p.copy_bytes) / double(int64_t(1) << 30), p.copy_iterations, p.gemm_tflops,
      p.gemm_m, p.gemm_n, p.gemm_k, p.gemm_iterations, describe_device(p.device));
}

#ifdef SINKBENCH_HAVE_CUDA
// Measures the current CUDA device once per process (cached by device ordinal; later calls are
// free). Never throws: a failure (out of memory, a CUDA or cuBLAS error) returns an unmeasured
// DevicePeaks whose reason names the step and the error. Allocates about 2.4 GiB for the time of
// the measurement; call it before allocating the benchmark's own buffers.
const DevicePeaks& measure_device_peaks();
#endif

}  // namespace sinkbench
