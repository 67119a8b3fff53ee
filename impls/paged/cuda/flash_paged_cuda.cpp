// impls/paged/cuda/flash_paged_cuda.cpp — host side of flash_paged/cuda (g++): support check,
// block-table validation before launch, the split heuristic, device buffers (page pools from
// build_paged_kv, int32 block tables, split partials), guarded outputs, event timing and the Impl
// registered by impls/cuda/cuda_registry.cpp. docs/impls/flash_paged_cuda.md.
#include "impls/paged/cuda/flash_paged_cuda.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/device.h"
#include "core/error.h"

namespace sinkbench::flash_paged_cuda {

namespace {

const DeviceInfo& device() {
  static const DeviceInfo d = query_device(0);
  return d;
}

std::string dtype_head_dim_reason(DType t, int head_dim) {
  if (t == DType::f32) return "fp32 inputs: flash_paged/cuda is built for bf16 and fp16 caches";
  if (t != DType::bf16 && t != DType::f16) return "unknown dtype";
  if (head_dim != 64 && head_dim != 128)
    return fmt::format("head_dim {}: instantiated for 64 and 128 only", head_dim);
  return {};
}

// f.template operator()<T, HeadDim>() for the four instantiations; anything else throws.
template <class F>
cudaError_t dispatch(DType t, int head_dim, F&& f) {
  const bool bf = t == DType::bf16;
  if (t != DType::bf16 && t != DType::f16)
    throw InternalError(fmt::format("flash_paged/cuda: no kernel for dtype {}", dtype_name(t)));
  switch (head_dim) {
    case 64:
      return bf ? f.template operator()<DType::bf16, 64>()
                : f.template operator()<DType::f16, 64>();
    case 128:
      return bf ? f.template operator()<DType::bf16, 128>()
                : f.template operator()<DType::f16, 128>();
    default:
      throw InternalError(fmt::format("flash_paged/cuda: no kernel for head_dim {}", head_dim));
  }
}

int64_t longest_sq(const Layout& l) {
  int64_t m = 0;
  for (int s = 0; s < l.seqs; ++s)
    m = std::max(m, l.sq(s));
  return m;
}

// Keys that some row of a sequence can see (bounds the useful split count: under a window the
// rest of the sequence is never read).
int64_t visible_span(const MaskRule& m, int64_t sq, int64_t sk) {
  if (m.kind == MaskKind::sliding_window || m.kind == MaskKind::sink_tokens) {
    const int64_t extra = m.kind == MaskKind::sink_tokens ? m.sink_tokens : 0;
    return std::min(sk, m.window + sq - 1 + extra);
  }
  return sk;
}

}  // namespace

Support supports_case(const CaseSpec& c) {
  const std::string why = dtype_head_dim_reason(c.dtype, c.head_dim);
  if (!why.empty()) return Support::no(why);
  if (c.heads_kv <= 0 || c.heads_q % c.heads_kv != 0)
    return Support::no("heads_q must be a multiple of heads_kv");
  const Support paged = paged_supports(c);
  if (!paged.ok) return paged;
  int64_t max_sq = 0;
  for (int s = 0; s < c.num_seqs(); ++s)
    max_sq = std::max(max_sq, c.sq(s));
  if (max_sq > kMaxDecodeRows)
    return Support::no(fmt::format(
        "Sq {} > {}: chunked prefill is not in this first version (decode only; tiled/cuda "
        "runs prefill on a contiguous cache)",
        max_sq, kMaxDecodeRows));
  if (int64_t(c.gqa()) * max_sq > kMaxRowsPerCta)
    return Support::no(fmt::format("GQA {} x Sq {} rows exceed the {} rows of one CTA", c.gqa(),
                                   max_sq, kMaxRowsPerCta));
  const DeviceInfo& d = device();
  if (!d.present) return Support::no("no GPU: " + d.reason);
  if (d.sm_major != 9 || d.sm_minor != 0)
    return Support::no(
        fmt::format("built for sm_90a; device is {} (sm_{}{})", d.name, d.sm_major, d.sm_minor));
  return Support::yes();
}

void check_block_table(const PagedKV& kv, const Layout& layout) {
  const auto fail = [](const std::string& what) {
    throw InputError("flash_paged/cuda: bad block table: " + what);
  };
  if (kv.page_size < kMinPageSize || kv.page_size > kMaxPageSize)
    fail(fmt::format("page size {} outside {}..{}", kv.page_size, kMinPageSize, kMaxPageSize));
  if (kv.block_table.size() != size_t(layout.seqs) || kv.seq_lens.size() != size_t(layout.seqs))
    fail(fmt::format("{} tables and {} lengths for {} sequences", kv.block_table.size(),
                     kv.seq_lens.size(), layout.seqs));
  if (kv.num_pages > std::numeric_limits<int32_t>::max())
    fail(fmt::format("pool of {} pages does not fit int32 page ids", kv.num_pages));
  for (int s = 0; s < layout.seqs; ++s) {
    if (kv.seq_lens[size_t(s)] != layout.sk(s))
      fail(fmt::format("sequence {} has {} keys in the cache but {} in the case", s,
                       kv.seq_lens[size_t(s)], layout.sk(s)));
    const auto& t = kv.block_table[size_t(s)];
    const int64_t need = (layout.sk(s) + kv.page_size - 1) / kv.page_size;
    if (int64_t(t.size()) < need)
      fail(fmt::format("sequence {} needs {} pages for {} keys but its table has {}", s, need,
                       layout.sk(s), t.size()));
    for (size_t p = 0; p < t.size(); ++p)
      if (t[p] < 0 || t[p] >= kv.num_pages)
        fail(
            fmt::format("sequence {} logical page {} holds page id {}, outside the pool of {} "
                        "pages",
                        s, p, t[p], kv.num_pages));
  }
}

std::vector<int> choose_num_splits(const CaseSpec& c, const Layout& layout, int sm_count,
                                   int forced) {
  if (forced > kMaxSplits)
    throw InputError(fmt::format("flash_paged/cuda: num_splits {} > {}", forced, kMaxSplits));
  std::vector<int> out(size_t(layout.seqs), 1);
  const int64_t ctas = std::max<int64_t>(1, int64_t(layout.seqs) * layout.heads_kv);
  const int64_t want = std::max<int64_t>(1, (2 * int64_t(std::max(sm_count, 1)) + ctas - 1) / ctas);
  for (int s = 0; s < layout.seqs; ++s) {
    if (forced > 0) {
      out[size_t(s)] = forced;
      continue;
    }
    const int64_t span = visible_span(c.mask, layout.sq(s), layout.sk(s));
    const int64_t by_keys = (span + kMinKeysPerSplit - 1) / kMinKeysPerSplit;
    out[size_t(s)] = int(std::clamp<int64_t>(std::min(want, by_keys), 1, kMaxSplits));
  }
  return out;
}

DevicePagedCase::DevicePagedCase(const CaseSpec& c, const Inputs& in, const PagedKV& kv,
                                 int num_splits)
    : case_(c), layout_(in.layout) {
  check_block_table(kv, layout_);  // before anything touches the device
  const Layout& l = layout_;
  splits_ = choose_num_splits(c, l, device().sm_count, num_splits);
  const size_t es = size_t(dtype_size(c.dtype));
  const int64_t nq = l.total_q() * c.heads_q * c.head_dim;
  q_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * es));
  q_.upload(in.q.data(), size_t(nq) * es);
  const size_t pool = size_t(kv.k_pages.numel()) * es;
  k_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  v_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  if (pool > 0) {
    k_.upload(kv.k_pages.data(), pool);
    v_.upload(kv.v_pages.data(), pool);
  }
  // Block tables as a dense int32 [seqs, max pages] array (validated above: ids fit int32).
  size_t width = 1;
  for (const auto& t : kv.block_table)
    width = std::max(width, t.size());
  std::vector<int32_t> table(size_t(l.seqs) * width, 0);
  for (int s = 0; s < l.seqs; ++s)
    for (size_t p = 0; p < kv.block_table[size_t(s)].size(); ++p)
      table[size_t(s) * width + p] = int32_t(kv.block_table[size_t(s)][p]);
  table_ = cuda::DeviceBuffer(std::max<size_t>(4, table.size() * 4));
  table_.upload(table.data(), table.size() * 4);
  if (!in.sinks.empty()) {
    sinks_ = cuda::DeviceBuffer(in.sinks.size() * sizeof(float));
    sinks_.upload(in.sinks.data(), in.sinks.size() * sizeof(float));
  }
  cu_q_ = cuda::DeviceBuffer(l.cu_q.size() * sizeof(int64_t));
  cu_q_.upload(l.cu_q.data(), l.cu_q.size() * sizeof(int64_t));
  cu_k_ = cuda::DeviceBuffer(l.cu_k.size() * sizeof(int64_t));
  cu_k_.upload(l.cu_k.data(), l.cu_k.size() * sizeof(int64_t));
  std::vector<int32_t> ns(splits_.begin(), splits_.end());
  nsplit_ = cuda::DeviceBuffer(ns.size() * 4);
  nsplit_.upload(ns.data(), ns.size() * 4);
  const int max_splits = *std::max_element(splits_.begin(), splits_.end());
  if (max_splits > 1) {
    part_o_ = cuda::DeviceBuffer(size_t(max_splits) * size_t(std::max<int64_t>(1, nq)) * 4);
    part_lse_ = cuda::DeviceBuffer(size_t(max_splits) *
                                   size_t(std::max<int64_t>(1, l.total_q() * c.heads_q)) * 4);
  }
  o_ = cuda::GuardedBuffer(nq, int(es));
  lse_ = cuda::GuardedBuffer(l.lse_size(), int(sizeof(float)));

  PagedParams& p = params_;
  p.q = q_.get();
  p.k_pages = k_.get();
  p.v_pages = v_.get();
  p.block_table = static_cast<const int32_t*>(table_.get());
  p.maybe_sinks = in.sinks.empty() ? nullptr : static_cast<const float*>(sinks_.get());
  p.cu_seqlens_q = static_cast<const int64_t*>(cu_q_.get());
  p.cu_seqlens_k = static_cast<const int64_t*>(cu_k_.get());
  p.num_splits = static_cast<const int32_t*>(nsplit_.get());
  p.o = o_.data();
  p.lse = static_cast<float*>(lse_.data());
  p.part_o = static_cast<float*>(part_o_.get());
  p.part_lse = static_cast<float*>(part_lse_.get());
  p.q_row_stride = int64_t(c.heads_q) * c.head_dim;
  p.q_head_stride = c.head_dim;
  p.o_row_stride = p.q_row_stride;
  p.o_head_stride = c.head_dim;
  p.slot_stride = int64_t(kv.heads_kv) * kv.head_dim;
  p.page_stride = int64_t(kv.page_size) * p.slot_stride;
  p.kv_head_stride = kv.head_dim;
  p.block_table_stride = int64_t(width);
  p.part_split_stride = nq;
  if (l.varlen) {
    p.lse_seq_stride = 0;
    p.lse_head_stride = l.total_q();
    p.lse_packed_rows = true;
  } else {
    p.lse_seq_stride = int64_t(c.heads_q) * l.sq(0);
    p.lse_head_stride = l.sq(0);
    p.lse_packed_rows = false;
  }
  p.num_seqs = l.seqs;
  p.heads_q = c.heads_q;
  p.heads_kv = c.heads_kv;
  p.head_dim = c.head_dim;
  p.page_size = kv.page_size;
  p.max_splits = max_splits;
  p.max_rows = int(int64_t(c.gqa()) * longest_sq(l));
  p.total_q = l.total_q();
  p.mask = c.mask;
  p.scale = c.scale_f32();
  if (p.max_rows > kMaxRowsPerCta)
    throw InputError(
        fmt::format("flash_paged/cuda: {} rows per CTA > {}", p.max_rows, kMaxRowsPerCta));
}

double DevicePagedCase::run(cudaStream_t stream) {
  o_.poison(stream);
  lse_.poison(stream);
  cuda::EventTimer timer;
  timer.start(stream);
  SB_CUDA(dispatch(case_.dtype, case_.head_dim,
                   [&]<DType T, int HD>() { return launch_paged_fwd<T, HD>(params_, stream); }));
  timer.stop(stream);
  const double s = timer.seconds();
  SB_CUDA(cudaGetLastError());
  return s;
}

ForwardResult DevicePagedCase::fetch() const {
  return cuda::fetch_outputs(case_, layout_, o_, lse_, "flash_paged/cuda");
}

namespace {

class FlashPagedCuda final : public Impl {
 public:
  explicit FlashPagedCuda(int num_splits) : num_splits_(num_splits) {}
  std::string name() const override { return "flash_paged/cuda"; }
  std::string family() const override { return "paged"; }
  Device device() const override { return Device::cuda; }
  std::string description() const override {
    return "split-KV decode over shuffled pages read through the block table, the query heads "
           "of a KV group sharing each K/V tile: fp32 logits and online softmax, P rounded to "
           "the dtype before P@V, fp32 partials, a combine adding the sink once, one output "
           "rounding";
  }
  Support supports(const CaseSpec& c) const override {
    if (num_splits_ > kMaxSplits)
      return Support::no(fmt::format("num_splits {} > {}", num_splits_, kMaxSplits));
    return supports_case(c);
  }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    const PagedKV kv = build_paged_kv(c, in);
    DevicePagedCase dc(c, in, kv, num_splits_);
    const double seconds = dc.run();
    ForwardResult r = dc.fetch();
    r.seconds = seconds;
    return r;
  }

 private:
  int num_splits_;
};

}  // namespace

std::unique_ptr<Impl> make_flash_paged_cuda(int num_splits) {
  return std::make_unique<FlashPagedCuda>(num_splits);
}

}  // namespace sinkbench::flash_paged_cuda
