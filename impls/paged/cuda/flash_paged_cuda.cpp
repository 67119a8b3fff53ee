// impls/paged/cuda/flash_paged_cuda.cpp — host side of flash_paged/cuda (g++): support check,
// block-table validation before launch, the split heuristic, device buffers (page pools from
// build_paged_kv, int32 block tables, split partials), guarded outputs, event timing and the Impl
// registered by impls/cuda/cuda_registry.cpp. docs/impls/flash_paged_cuda.md.
#include "impls/paged/cuda/flash_paged_cuda.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "cases/rng.h"
#include "core/device.h"
#include "core/error.h"
#include "impls/cuda/device_inputs.h"
#include "impls/cuda/dispatch.h"
#include "impls/paged/cuda/paged_fill.h"

namespace sinkbench::flash_paged_cuda {

namespace {

int64_t longest_sq(const Layout& l) {
  int64_t m = 0;
  for (int s = 0; s < l.seqs; ++s)
    m = std::max(m, l.sq(s));
  return m;
}

}  // namespace

Support supports_case(const CaseSpec& c) {
  const std::string why = cuda::unsupported_reason(c.dtype, c.head_dim);
  if (!why.empty()) return Support::no(why);
  if (c.heads_kv <= 0 || c.heads_q % c.heads_kv != 0)
    return Support::no("heads_q must be a multiple of heads_kv");
  const Support paged = paged_supports(c);
  if (!paged.ok) return paged;
  int64_t max_sq = 0, max_sk = 0;
  for (int s = 0; s < c.num_seqs(); ++s) {
    max_sq = std::max(max_sq, c.sq(s));
    max_sk = std::max(max_sk, c.sk(s));
  }
  // The kernel finds a key's page in 32-bit arithmetic.
  if (max_sk > std::numeric_limits<int32_t>::max())
    return Support::no(fmt::format("{} keys in one sequence exceed 2^31 - 1", max_sk));
  // Row blocks of 16 (query head, query row) pairs run along grid x.
  if (int64_t(c.gqa()) * max_sq > (int64_t(1) << 30))
    return Support::no(
        fmt::format("GQA {} x Sq {} rows per KV group exceed 2^30", c.gqa(), max_sq));
  if (int64_t(c.num_seqs()) * c.heads_kv > 65535)
    return Support::no(fmt::format("{} sequences x {} KV heads exceed the grid's 65535",
                                   c.num_seqs(), c.heads_kv));
  return cuda::target_device_support();
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

SplitPlan plan_splits(const CaseSpec& c, const Layout& layout, int resident_ctas, int forced) {
  if (forced > kMaxSplits)
    throw InputError(fmt::format("flash_paged/cuda: num_splits {} > {}", forced, kMaxSplits));
  SplitPlan plan;
  const int64_t group = c.gqa();
  int64_t ctas = 0;  // CTAs of one split over the whole batch
  for (int s = 0; s < layout.seqs; ++s)
    ctas += int64_t(layout.heads_kv) * ((group * layout.sq(s) + kRowsPerCta - 1) / kRowsPerCta);
  ctas = std::max<int64_t>(ctas, 1);
  const int64_t slots = std::max(resident_ctas, 1);
  for (int s = 0; s < layout.seqs; ++s) {
    const int64_t sk = layout.sk(s);
    const int64_t begin = first_visible_tile_key(c.mask, layout.sq(s), sk);
    const int64_t span = sk - begin;
    int64_t n = forced;
    if (n <= 0) {
      // The smallest count whose waves are filled within kWaveSlack (relative) of the best: a
      // wave's CTAs finish together, so a last wave a tenth full costs nearly a whole one.
      const int64_t most =
          std::clamp<int64_t>((span + kMinKeysPerSplit - 1) / kMinKeysPerSplit, 1, kMaxSplits);
      const auto fill = [&](int64_t k) {
        const int64_t total = ctas * k;
        return double(total) / double(slots * ((total + slots - 1) / slots));
      };
      double best = 0;
      for (int64_t k = 1; k <= most; ++k)
        best = std::max(best, fill(k));
      n = 1;
      while (n < most && fill(n) < best * (1 - kWaveSlack))
        ++n;
    }
    n = std::clamp<int64_t>(n, 1, kMaxSplits);
    // Keys per split: a whole number of tiles, so no tile is shared by two splits.
    const int64_t tiles = std::max<int64_t>(1, (span + kPagedBlockN - 1) / kPagedBlockN);
    const int64_t tiles_per_split = (tiles + n - 1) / n;
    plan.splits.push_back(int((tiles + tiles_per_split - 1) / tiles_per_split));
    plan.begin.push_back(begin);
    plan.keys.push_back(tiles_per_split * kPagedBlockN);
  }
  return plan;
}

int64_t first_visible_tile_key(const MaskRule& m, int64_t sq, int64_t sk) {
  // The first row sits at position sk - sq (bottom-right); later rows see no earlier key.
  return visible_span(m, sk - sq, sk - 1, 0, sk).head.lo / kPagedBlockN * kPagedBlockN;
}

DevicePagedCase::DevicePagedCase(const CaseSpec& c, const Inputs& in, const PagedKV& kv,
                                 int num_splits)
    : case_(c), layout_(in.layout) {
  check_block_table(kv, layout_);  // before anything touches the device
  const size_t es = size_t(dtype_size(c.dtype));
  const int64_t nq = layout_.total_q() * c.heads_q * c.head_dim;
  q_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * es));
  q_.upload(in.q.data(), size_t(nq) * es);
  const size_t pool = size_t(kv.k_pages.numel()) * es;
  k_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  v_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  if (pool > 0) {
    k_.upload(kv.k_pages.data(), pool);
    v_.upload(kv.v_pages.data(), pool);
  }
  finish_setup(kv, in.sinks, num_splits);
}

DevicePagedCase::DevicePagedCase(const CaseSpec& c, int num_splits)
    : case_(c), layout_(make_layout(c)) {
  const PagedKV kv = paged_layout(c, layout_);
  check_block_table(kv, layout_);
  const Layout& l = layout_;
  const size_t es = size_t(dtype_size(c.dtype));
  const int64_t nq = l.total_q() * c.heads_q * c.head_dim;
  q_ = cuda::DeviceBuffer(std::max<size_t>(1, size_t(nq) * es));
  cuda::generate_input(c, rng::kQ, nq, q_, nullptr);
  // K and V packed as the generator draws them, then scattered into the shuffled pages of
  // paged_layout (slots past a sequence's end stay NaN, as build_paged_kv leaves them).
  const int64_t row = int64_t(kv.heads_kv) * kv.head_dim;
  const int64_t nk = l.total_k() * row;
  const size_t pool = size_t(kv.num_pages) * size_t(kv.page_size) * size_t(row) * es;
  k_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  v_ = cuda::DeviceBuffer(std::max<size_t>(16, pool));
  SB_CUDA(cudaMemset(k_.get(), 0xFF, k_.bytes()));
  SB_CUDA(cudaMemset(v_.get(), 0xFF, v_.bytes()));
  {
    cuda::DeviceBuffer k_packed(std::max<size_t>(16, size_t(nk) * es));
    cuda::DeviceBuffer v_packed(std::max<size_t>(16, size_t(nk) * es));
    cuda::generate_input(c, rng::kK, nk, k_packed, nullptr);
    cuda::generate_input(c, rng::kV, nk, v_packed, nullptr);
    std::vector<int64_t> slots(size_t(l.total_k()));
    for (int s = 0; s < l.seqs; ++s)
      for (int64_t j = 0; j < l.sk(s); ++j)
        slots[size_t(l.cu_k[size_t(s)] + j)] = kv.offset(s, j, 0);
    cuda::DeviceBuffer slot_buf(std::max<size_t>(8, slots.size() * 8));
    slot_buf.upload(slots.data(), slots.size() * 8);
    FillParams f;
    f.k_packed = k_packed.get();
    f.v_packed = v_packed.get();
    f.k_pages = k_.get();
    f.v_pages = v_.get();
    f.slot_offset = static_cast<const int64_t*>(slot_buf.get());
    f.rows = l.total_k();
    f.row_elems = row;
    SB_CUDA(launch_fill_pages(f, nullptr));
    SB_CUDA(cudaDeviceSynchronize());
  }
  std::vector<float> sinks;
  if (c.has_sink())
    for (int h = 0; h < c.heads_q; ++h)
      sinks.push_back(sink_value(c, h));
  finish_setup(kv, sinks, num_splits);
}

cuda::DeviceBuffer DevicePagedCase::upload_block_table(const PagedKV& kv, const Layout& l,
                                                       int64_t* width_out) {
  // A dense int32 [seqs, max pages] array (check_block_table: ids fit int32).
  size_t width = 1;
  for (const auto& t : kv.block_table)
    width = std::max(width, t.size());
  std::vector<int32_t> table(size_t(l.seqs) * width, 0);
  for (int s = 0; s < l.seqs; ++s)
    for (size_t p = 0; p < kv.block_table[size_t(s)].size(); ++p)
      table[size_t(s) * width + p] = int32_t(kv.block_table[size_t(s)][p]);
  cuda::DeviceBuffer buf(std::max<size_t>(4, table.size() * 4));
  buf.upload(table.data(), table.size() * 4);
  *width_out = int64_t(width);
  return buf;
}

void DevicePagedCase::finish_setup(const PagedKV& kv, const std::vector<float>& sinks,
                                   int num_splits) {
  const CaseSpec& c = case_;
  const Layout& l = layout_;
  const int per_sm = cuda::dispatch_fwd(
      c.dtype, c.head_dim, [&]<DType T, int HD>() { return paged_split_ctas_per_sm<T, HD>(); });
  const SplitPlan plan = plan_splits(c, l, cuda::target_device().sm_count * per_sm, num_splits);
  splits_ = plan.splits;
  const size_t es = size_t(dtype_size(c.dtype));
  const int64_t nq = l.total_q() * c.heads_q * c.head_dim;
  if (table_.get() == nullptr) table_ = upload_block_table(kv, l, &table_width_);
  if (!sinks.empty()) {
    sinks_ = cuda::DeviceBuffer(sinks.size() * sizeof(float));
    sinks_.upload(sinks.data(), sinks.size() * sizeof(float));
  }
  cu_q_ = cuda::DeviceBuffer(l.cu_q.size() * sizeof(int64_t));
  cu_q_.upload(l.cu_q.data(), l.cu_q.size() * sizeof(int64_t));
  if (cu_k_.get() == nullptr) {
    cu_k_ = cuda::DeviceBuffer(l.cu_k.size() * sizeof(int64_t));
    cu_k_.upload(l.cu_k.data(), l.cu_k.size() * sizeof(int64_t));
  }
  std::vector<int32_t> ns(splits_.begin(), splits_.end());
  nsplit_ = cuda::DeviceBuffer(std::max<size_t>(4, ns.size() * 4));
  nsplit_.upload(ns.data(), ns.size() * 4);
  split_begin_ = cuda::DeviceBuffer(std::max<size_t>(8, plan.begin.size() * 8));
  split_begin_.upload(plan.begin.data(), plan.begin.size() * 8);
  split_keys_ = cuda::DeviceBuffer(std::max<size_t>(8, plan.keys.size() * 8));
  split_keys_.upload(plan.keys.data(), plan.keys.size() * 8);
  const int max_splits = splits_.empty() ? 1 : *std::max_element(splits_.begin(), splits_.end());
  if (max_splits > 1) {
    part_o_ = cuda::DeviceBuffer(size_t(max_splits) * size_t(std::max<int64_t>(1, nq)) * 4);
    part_lse_ = cuda::DeviceBuffer(size_t(max_splits) *
                                   size_t(std::max<int64_t>(1, l.total_q() * c.heads_q)) * 4);
  }
  o_ = cuda::GuardedBuffer(nq, int(es));
  lse_ = cuda::GuardedBuffer(l.lse_size(), int(sizeof(float)));

  PagedParams& p = params_;
  cuda::fill_attn_params(p, c, l);
  p.q = q_.get();
  p.k = k_.get();
  p.v = v_.get();
  p.maybe_sinks = sinks.empty() ? nullptr : static_cast<const float*>(sinks_.get());
  p.cu_seqlens_q = static_cast<const int64_t*>(cu_q_.get());
  p.cu_seqlens_k = static_cast<const int64_t*>(cu_k_.get());
  p.o = o_.data();
  p.lse = static_cast<float*>(lse_.data());
  p.block_table = static_cast<const int32_t*>(table_.get());
  p.num_splits = static_cast<const int32_t*>(nsplit_.get());
  p.split_begin = static_cast<const int64_t*>(split_begin_.get());
  p.split_keys = static_cast<const int64_t*>(split_keys_.get());
  p.part_o = static_cast<float*>(part_o_.get());
  p.part_lse = static_cast<float*>(part_lse_.get());
  p.page_stride = int64_t(kv.page_size) * p.k_row_stride;
  p.block_table_stride = table_width_;
  p.part_split_stride = nq;
  p.page_size = kv.page_size;
  p.max_splits = max_splits;
  p.max_rows = int(int64_t(c.gqa()) * longest_sq(l));
  p.total_q = l.total_q();
}

double DevicePagedCase::run(cudaStream_t stream) {
  return cuda::timed_run(o_, lse_, stream, [&] {
    SB_CUDA(cuda::dispatch_fwd(case_.dtype, case_.head_dim, [&]<DType T, int HD>() {
      return launch_paged_fwd<T, HD>(params_, stream);
    }));
  });
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
    return "split-KV attention over shuffled pages read through the block table (decode, "
           "speculative decode, chunked prefill), the query heads of a KV group sharing each K/V "
           "tile: mma.sync logits and online softmax, P rounded to the dtype before P@V, fp32 "
           "partials, a combine adding the sink once, one output rounding";
  }
  Support supports(const CaseSpec& c) const override {
    if (num_splits_ > kMaxSplits)
      return Support::no(fmt::format("num_splits {} > {}", num_splits_, kMaxSplits));
    return supports_case(c);
  }
  ForwardResult forward(const CaseSpec& c, const Inputs& in) const override {
    return run_once(*prepare(c, in));
  }
  // The pages are built on the host and uploaded here; run() reads them through the table.
  std::unique_ptr<PreparedForward> prepare(const CaseSpec& c, const Inputs& in) const override {
    const PagedKV kv = build_paged_kv(c, in);
    return std::make_unique<PreparedCase<DevicePagedCase>>(c, in, kv, num_splits_);
  }

 private:
  int num_splits_;
};

}  // namespace

std::unique_ptr<Impl> make_flash_paged_cuda(int num_splits) {
  return std::make_unique<FlashPagedCuda>(num_splits);
}

}  // namespace sinkbench::flash_paged_cuda
