// impls/cuda/cuda_util.cpp — host-side CUDA helpers (see cuda_util.h).
#include "impls/cuda/cuda_util.h"

#include <fmt/format.h>

#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "impls/cuda/l2_flush.h"

namespace sinkbench::cuda {

void check(cudaError_t e, const char* what, const char* file, int line) {
  if (e == cudaSuccess) return;
  cudaGetLastError();  // clear a sticky launch error so later calls report their own
  throw InternalError(fmt::format("{}:{}: {} failed: {} ({})", file, line, what,
                                  cudaGetErrorString(e), cudaGetErrorName(e)));
}

DeviceBuffer::DeviceBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes > 0) SB_CUDA(cudaMalloc(&ptr_, bytes));
}

DeviceBuffer::~DeviceBuffer() {
  if (ptr_ != nullptr) cudaFree(ptr_);
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& o) noexcept
    : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& o) noexcept {
  if (this != &o) {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = std::exchange(o.ptr_, nullptr);
    bytes_ = std::exchange(o.bytes_, 0);
  }
  return *this;
}

void DeviceBuffer::upload(const void* host, size_t bytes, size_t offset) {
  if (offset + bytes > bytes_)
    throw InternalError(
        fmt::format("DeviceBuffer::upload: {} bytes at {} exceed {}", bytes, offset, bytes_));
  if (bytes > 0)
    SB_CUDA(cudaMemcpy(static_cast<char*>(ptr_) + offset, host, bytes, cudaMemcpyHostToDevice));
}

GuardedBuffer::GuardedBuffer(int64_t count, int elem_size)
    : mem_(size_t(count) * size_t(elem_size) + 2 * kMargin), count_(count), elem_size_(elem_size) {
  poison();
}

void GuardedBuffer::poison(cudaStream_t stream) const {
  SB_CUDA(cudaMemsetAsync(mem_.get(), 0xFF, mem_.bytes(), stream));
}

void GuardedBuffer::fetch_checked(void* host, const std::string& what) const {
  std::vector<unsigned char> all(mem_.bytes());
  SB_CUDA(cudaMemcpy(all.data(), mem_.get(), all.size(), cudaMemcpyDeviceToHost));
  const size_t payload = payload_bytes();
  auto margin_error = [&](const char* side, size_t begin) {
    for (size_t b = 0; b < kMargin; ++b) {
      if (all[begin + b] != 0xFF) {
        throw InternalError(fmt::format(
            "guard violated: {}: the {} margin was written (byte {} of {} is 0x{:02x}): the kernel "
            "wrote out of bounds",
            what, side, b, kMargin, all[begin + b]));
      }
    }
  };
  margin_error("leading", 0);
  margin_error("trailing", kMargin + payload);
  const unsigned char* p = all.data() + kMargin;
  int64_t unwritten = 0, first = -1;
  for (int64_t i = 0; i < count_; ++i) {
    bool poisoned = true;
    for (int b = 0; b < elem_size_ && poisoned; ++b)
      poisoned = p[size_t(i) * size_t(elem_size_) + size_t(b)] == 0xFF;
    if (poisoned) {
      if (first < 0) first = i;
      ++unwritten;
    }
  }
  if (unwritten > 0) {
    throw InternalError(fmt::format(
        "guard violated: {}: {} of {} elements were never written (first at flat index {})", what,
        unwritten, count_, first));
  }
  std::memcpy(host, p, payload);
}

EventTimer::EventTimer() {
  SB_CUDA(cudaEventCreate(&start_));
  SB_CUDA(cudaEventCreate(&stop_));
}

EventTimer::~EventTimer() {
  if (start_ != nullptr) cudaEventDestroy(start_);
  if (stop_ != nullptr) cudaEventDestroy(stop_);
}

void EventTimer::start(cudaStream_t stream) {
  SB_CUDA(cudaEventRecord(start_, stream));
}
void EventTimer::stop(cudaStream_t stream) {
  SB_CUDA(cudaEventRecord(stop_, stream));
}

double EventTimer::seconds() {
  SB_CUDA(cudaEventSynchronize(stop_));
  float ms = 0;
  SB_CUDA(cudaEventElapsedTime(&ms, start_, stop_));
  return ms * 1e-3;
}

L2Flusher::L2Flusher() {
  int dev = 0, l2 = 0;
  SB_CUDA(cudaGetDevice(&dev));
  SB_CUDA(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
  buf_ = DeviceBuffer(size_t(l2 > 0 ? l2 : 64 << 20) * 2);
  sink_ = DeviceBuffer(16);
  SB_CUDA(cudaMemset(buf_.get(), 0, buf_.bytes()));
  SB_CUDA(cudaMemset(sink_.get(), 0, sink_.bytes()));
}

void L2Flusher::flush(cudaStream_t stream) {
  SB_CUDA(launch_l2_read(buf_.get(), buf_.bytes(), static_cast<unsigned*>(sink_.get()), stream));
}

const DeviceInfo& target_device() {
  static const DeviceInfo d = query_device(0);
  return d;
}

Support target_device_support() {
  const DeviceInfo& d = target_device();
  if (!d.present) return Support::no("no GPU: " + d.reason);
  if (d.sm_major != 9 || d.sm_minor != 0)
    return Support::no(
        fmt::format("built for sm_90a; device is {} (sm_{}{})", d.name, d.sm_major, d.sm_minor));
  return Support::yes();
}

ForwardResult fetch_outputs(const CaseSpec& c, const Layout& layout, const GuardedBuffer& o,
                            const GuardedBuffer& lse, const std::string& impl) {
  ForwardResult r;
  r.o = Tensor(c.dtype, {layout.total_q(), c.heads_q, c.head_dim});
  r.lse.resize(size_t(layout.lse_size()));
  const std::string label = case_label(c);
  o.fetch_checked(r.o.data(), impl + " o of " + label);
  lse.fetch_checked(r.lse.data(), impl + " lse of " + label);
  return r;
}

}  // namespace sinkbench::cuda
