// impls/paged/cuda/eager_paged_cuda.cpp — host side of eager_paged/cuda (g++): support check,
// block-table validation before any launch (flash_paged/cuda's check), page pools and int32
// block tables uploaded, the device gather into packed K/V, then eager_concat/cuda's forward pass
// over those device K/V; the Impl registered by impls/cuda/cuda_registry.cpp.
// docs/impls/eager_paged_cuda.md.
#include "impls/paged/cuda/eager_paged_cuda.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "impls/eager_concat/cuda/eager_cuda.h"
#include "impls/families.h"
#include "impls/paged/cuda/flash_paged_cuda.h"
#include "impls/paged/cuda/paged_gather_params.h"

namespace sinkbench::eager_paged_cuda {

namespace {

constexpr const char* kName = "eager_paged/cuda";

// flash_paged_cuda::check_block_table names flash_paged/cuda in its message; the same check
// guards this implementation, so the error is re-labelled with the caller's name.
void check_table(const PagedKV& kv, const Layout& layout) {
  try {
    flash_paged_cuda::check_block_table(kv, layout);
  } catch (const InputError& e) {
    std::string what = e.what();
    const std::string other = "flash_paged/cuda: ";
    if (what.rfind(other, 0) == 0) what.erase(0, other.size());
    throw InputError(std::string(kName) + ": " + what);
  }
}

int64_t pool_pages(const CaseSpec& c) {
  const int64_t p = effective_page_size(c);
  int64_t pages = 0;
  for (int s = 0; s < c.num_seqs(); ++s)
    pages += (c.sk(s) + p - 1) / p;
  return pages;
}

}  // namespace

Support supports_case(const CaseSpec& c) {
  if (c.dtype != DType::bf16 && c.dtype != DType::f16)
    return Support::no(
        "fp32 inputs: eager_paged/cuda is built for bf16/fp16 caches (GEMM outputs and P rounded "
        "to the dtype); eager_paged/cpu covers fp32");
  const Support paged = paged_supports(c);
  if (!paged.ok) return paged;
  const int64_t pages = pool_pages(c);
  if (pages > std::numeric_limits<int32_t>::max())
    return Support::no(fmt::format("a pool of {} pages does not fit the int32 block table", pages));
  // GQA shape, int dimensions for cuBLAS, the logits budget and the device: eager_concat/cuda's
  // own checks, since the same GEMMs and row kernel run after the gather.
  return eager_cuda::supports_case(c);
}

DeviceGather::DeviceGather(const PagedKV& kv, const Layout& layout, DType dtype)
    : dtype_(dtype), layout_(layout) {
  check_table(kv, layout);  // before anything touches the device
  const size_t es = size_t(dtype_size(dtype));
  page_size_ = kv.page_size;
  const size_t pool = size_t(kv.k_pages.numel()) * es;
  k_pages_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  v_pages_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  if (pool > 0) {
    k_pages_.upload(kv.k_pages.data(), pool);
    v_pages_.upload(kv.v_pages.data(), pool);
  }
  // Block tables as one dense int32 [seqs, max pages] array, as flash_paged/cuda uploads them
  // (validated above: every id fits int32 and lies in the pool).
  size_t width = 1;
  for (const auto& t : kv.block_table)
    width = std::max(width, t.size());
  std::vector<int32_t> table(size_t(layout.seqs) * width, 0);
  for (int s = 0; s < layout.seqs; ++s)
    for (size_t p = 0; p < kv.block_table[size_t(s)].size(); ++p)
      table[size_t(s) * width + p] = int32_t(kv.block_table[size_t(s)][p]);
  table_ = cuda::DeviceBuffer(std::max<size_t>(4, table.size() * 4));
  table_.upload(table.data(), table.size() * 4);
  table_stride_ = int64_t(width);
  cu_k_ = cuda::DeviceBuffer(layout.cu_k.size() * sizeof(int64_t));
  cu_k_.upload(layout.cu_k.data(), layout.cu_k.size() * sizeof(int64_t));
  const size_t packed =
      size_t(layout.total_k()) * size_t(layout.heads_kv) * size_t(layout.head_dim) * es;
  k_ = cuda::DeviceBuffer(std::max<size_t>(16, packed));
  v_ = cuda::DeviceBuffer(std::max<size_t>(16, packed));
}

double DeviceGather::run(cudaStream_t stream) {
  GatherParams p;
  p.k_pages = k_pages_.get();
  p.v_pages = v_pages_.get();
  p.k_out = k_.get();
  p.v_out = v_.get();
  p.block_table = static_cast<const int32_t*>(table_.get());
  p.cu_seqlens_k = static_cast<const int64_t*>(cu_k_.get());
  p.row_elems = int64_t(layout_.heads_kv) * layout_.head_dim;
  p.slot_stride = p.row_elems;
  p.page_stride = int64_t(page_size_) * p.slot_stride;
  p.out_row_stride = p.row_elems;
  p.block_table_stride = table_stride_;
  p.total_k = layout_.total_k();
  p.num_seqs = layout_.seqs;
  p.page_size = page_size_;
  cuda::EventTimer timer;
  timer.start(stream);
  SB_CUDA(launch_paged_gather(p, stream));
  timer.stop(stream);
  const double s = timer.seconds();
  SB_CUDA(cudaGetLastError());
  return s;
}

Tensor DeviceGather::fetch(const cuda::DeviceBuffer& b) const {
  Tensor t(dtype_, {layout_.total_k(), layout_.heads_kv, layout_.head_dim});
  if (t.nbytes() > 0)
    SB_CUDA(cudaMemcpy(t.data(), b.get(), size_t(t.nbytes()), cudaMemcpyDeviceToHost));
  return t;
}

Tensor DeviceGather::fetch_k() const {
  return fetch(k_);
}
Tensor DeviceGather::fetch_v() const {
  return fetch(v_);
}

namespace {

// The gather and eager_concat/cuda's pass over the K/V it fills, both set up once; run() times
// both. eager_concat/cuda's two variants run the same kernels (softmax_fp32 rounds P where the
// default does), so this is eager_paged/cpu's "eager_concat with softmax_fp32" on the GPU.
class EagerPagedCase final : public PreparedForward {
 public:
  EagerPagedCase(const CaseSpec& c, const Inputs& in, const PagedKV& kv)
      : gather_(kv, in.layout, c.dtype),
        pass_(eager_cuda::prepare_device_kv(c, in, eager_cuda::DeviceKV{gather_.k(), gather_.v()},
                                            kName)) {}
  double run() override {
    const double gather_s = gather_.run();  // launched first: the pass reads what it gathers
    return seconds_ = gather_s + pass_->run();
  }
  ForwardResult fetch() override {
    ForwardResult r = pass_->fetch();
    r.seconds = seconds_;
    return r;
  }

 private:
  DeviceGather gather_;  // declared before pass_, which reads its K/V
  std::unique_ptr<PreparedForward> pass_;
  double seconds_ = 0;
};

}  // namespace

std::unique_ptr<PreparedForward> prepare_paged(const CaseSpec& c, const Inputs& in,
                                               const PagedKV& kv) {
  return std::make_unique<EagerPagedCase>(c, in, kv);
}

ForwardResult forward_paged(const CaseSpec& c, const Inputs& in, const PagedKV& kv) {
  return run_once(*prepare_paged(c, in, kv));
}

namespace {

class EagerPagedCuda final : public Impl {
 public:
  std::string name() const override { return kName; }
  std::string family() const override { return "paged"; }
  Device device() const override { return Device::cuda; }
  std::string description() const override {
    return "K/V gathered on the GPU from shuffled pages through the block table, then "
           "transformers eager_paged as eager_concat/cuda: cuBLAS QK^T (output rounded to the "
           "dtype), a row kernel rounding scale, mask and max subtraction, fp32 softmax with the "
           "sink column cast to the dtype, cuBLAS P@V (output rounded)";
  }
  Support supports(const CaseSpec& c) const override { return supports_case(c); }
  bool rounds_logits(const CaseSpec&) const override { return true; }  // eager: policy v2
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    return run_once(*prepare(c, in));
  }
  std::unique_ptr<PreparedForward> prepare(const CaseSpec& c, const Inputs& in) const override {
    return prepare_paged(c, in, build_paged_kv(c, in));
  }
};

}  // namespace

std::unique_ptr<Impl> make_eager_paged_cuda() {
  return std::make_unique<EagerPagedCuda>();
}

}  // namespace sinkbench::eager_paged_cuda

namespace sinkbench {

void add_paged_cuda(ImplList& out) {
  out.push_back(eager_paged_cuda::make_eager_paged_cuda());
  out.push_back(flash_paged_cuda::make_flash_paged_cuda());
}

}  // namespace sinkbench
