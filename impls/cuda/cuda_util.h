// impls/cuda/cuda_util.h — host-side helpers shared by the CUDA implementations: error checks
// that throw with file:line, owning device buffers, guarded output buffers (NaN-poisoned payload
// between NaN margins, checked after every run), CUDA-event timing and an L2 flush. Host-only:
// includes cuda_runtime_api.h and nothing that nvcc would have to parse.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "cases/case_spec.h"
#include "core/device.h"
#include "impls/impl.h"

namespace sinkbench::cuda {

// Throws InternalError "file:line: what: <CUDA error>" unless e == cudaSuccess.
void check(cudaError_t e, const char* what, const char* file, int line);
#define SB_CUDA(expr) ::sinkbench::cuda::check((expr), #expr, __FILE__, __LINE__)

// cudaMalloc'd bytes, freed on destruction. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  void upload(const void* host, size_t bytes, size_t offset = 0);

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// An output buffer of `count` elements of `elem_size` bytes with kMargin bytes on each side.
// poison() fills everything with 0xFF bytes (a NaN in fp32, fp16 and bf16 that no kernel
// produces: computed NaNs are canonical, 0x7FFF / 0x7E00 / 0x7FFFFFFF). fetch_checked() copies
// the payload out and throws InternalError, naming `what`, if a margin byte changed (a write out
// of bounds) or an element still holds the poison (never written).
class GuardedBuffer {
 public:
  static constexpr size_t kMargin = 16384;  // bytes; a multiple of 256 keeps the payload aligned
  GuardedBuffer() = default;
  GuardedBuffer(int64_t count, int elem_size);
  void* data() const { return static_cast<char*>(mem_.get()) + kMargin; }
  size_t payload_bytes() const { return size_t(count_) * size_t(elem_size_); }
  void poison(cudaStream_t stream = nullptr) const;
  void fetch_checked(void* host, const std::string& what) const;

 private:
  DeviceBuffer mem_;
  int64_t count_ = 0;
  int elem_size_ = 0;
};

// A pair of CUDA events around one region of a stream.
class EventTimer {
 public:
  EventTimer();
  ~EventTimer();
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;
  void start(cudaStream_t stream = nullptr);
  void stop(cudaStream_t stream = nullptr);
  // Waits for the stop event; seconds between the two events.
  double seconds();

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// Reads a buffer twice the size of the L2 (l2_flush.cu) so that the next kernel starts with a
// cold cache holding no dirty lines: a memset flush would leave its writes to be written back
// inside the next timed region.
class L2Flusher {
 public:
  L2Flusher();
  void flush(cudaStream_t stream = nullptr);

 private:
  DeviceBuffer buf_, sink_;
};

// One timed run of a case on `stream`: o and lse poisoned first (outside the timed region), then
// `launch()` (which queues the kernels) between two CUDA events; the seconds between them.
template <class Launch>
double timed_run(const GuardedBuffer& o, const GuardedBuffer& lse, cudaStream_t stream,
                 Launch&& launch) {
  o.poison(stream);
  lse.poison(stream);
  EventTimer timer;
  timer.start(stream);
  launch();
  timer.stop(stream);
  const double seconds = timer.seconds();
  SB_CUDA(cudaGetLastError());
  return seconds;
}

// The GPU the CUDA implementations run on (ordinal 0), queried once.
const DeviceInfo& target_device();
// ok on the sm_90 GPU the kernels are built for (sm_90a); otherwise why not: no GPU (with
// query_device's reason) or another architecture.
Support target_device_support();

// o ([total_q, Hq, D], case dtype) and lse (fp32) of one case copied back through
// fetch_checked, so a broken guard or an unwritten element throws, naming impl and case.
ForwardResult fetch_outputs(const CaseSpec& c, const Layout& layout, const GuardedBuffer& o,
                            const GuardedBuffer& lse, const std::string& impl);

}  // namespace sinkbench::cuda
