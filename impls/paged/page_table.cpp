// impls/paged/page_table.cpp — the paged KV cache of the CPU paged family (implementation layer):
// page size choice, the shuffled page pool with its block tables, and the gather back to a
// contiguous layout that eager_paged runs on.
#include <fmt/format.h>

#include <numeric>

#include "cases/rng.h"
#include "impls/paged/paged.h"

namespace sinkbench {

int effective_page_size(const CaseSpec& c) {
  return c.page_size == 0 ? kDefaultPageSize : c.page_size;
}

Support paged_supports(const CaseSpec& c) {
  const int p = effective_page_size(c);
  if (p < kMinPageSize || p > kMaxPageSize)
    return Support::no(fmt::format("page_size {} is outside the {}..{} the paged kernels take", p,
                                   kMinPageSize, kMaxPageSize));
  return Support::yes();
}

namespace {

// A uniformly drawn cyclic permutation of [0, n) (Sattolo's algorithm): no page keeps its logical
// place, so a single sequence's pages never form one ascending run.
std::vector<int64_t> shuffled_pages(uint64_t seed, int64_t n) {
  std::vector<int64_t> perm(static_cast<size_t>(n));
  std::iota(perm.begin(), perm.end(), int64_t(0));
  for (int64_t i = n - 1; i >= 1; --i) {
    const rng::Words w = rng::philox(seed, rng::kPages, uint64_t(i));
    const uint64_t r = (uint64_t(w.w[0]) << 32) | w.w[1];
    std::swap(perm[size_t(i)], perm[size_t(r % uint64_t(i))]);
  }
  return perm;
}

void copy_rows(const Tensor& from, int64_t from_off, Tensor& to, int64_t to_off, int64_t n) {
  for (int64_t e = 0; e < n; ++e)
    to.set_bits(to_off + e, from.bits(from_off + e));
}

}  // namespace

PagedKV paged_layout(const CaseSpec& c, const Layout& L) {
  PagedKV kv;
  kv.page_size = effective_page_size(c);
  kv.heads_kv = L.heads_kv;
  kv.head_dim = L.head_dim;
  for (int s = 0; s < L.seqs; ++s) {
    kv.seq_lens.push_back(L.sk(s));
    kv.num_pages += (L.sk(s) + kv.page_size - 1) / kv.page_size;
  }
  const std::vector<int64_t> perm = shuffled_pages(c.seed, kv.num_pages);
  int64_t logical = 0;
  kv.block_table.resize(size_t(L.seqs));
  for (int s = 0; s < L.seqs; ++s) {
    const int64_t pages = (L.sk(s) + kv.page_size - 1) / kv.page_size;
    for (int64_t t = 0; t < pages; ++t)
      kv.block_table[size_t(s)].push_back(perm[size_t(logical++)]);
  }
  return kv;
}

PagedKV build_paged_kv(const CaseSpec& c, const Inputs& in) {
  const Layout& L = in.layout;
  PagedKV kv = paged_layout(c, L);
  const std::vector<int64_t> shape{kv.num_pages, kv.page_size, kv.heads_kv, kv.head_dim};
  kv.k_pages = Tensor(c.dtype, shape);
  kv.v_pages = Tensor(c.dtype, shape);
  kv.k_pages.fill_nan();
  kv.v_pages.fill_nan();
  const int64_t row = int64_t(kv.heads_kv) * kv.head_dim;  // one key: every KV head
  for (int s = 0; s < L.seqs; ++s)
    for (int64_t j = 0; j < L.sk(s); ++j) {
      copy_rows(in.k, L.kv_offset(s, j, 0), kv.k_pages, kv.offset(s, j, 0), row);
      copy_rows(in.v, L.kv_offset(s, j, 0), kv.v_pages, kv.offset(s, j, 0), row);
    }
  return kv;
}

Tensor gather_pages(const PagedKV& kv, const Tensor& pages, const Layout& layout) {
  Tensor out(pages.dtype(), {layout.total_k(), kv.heads_kv, kv.head_dim});
  const int64_t row = int64_t(kv.heads_kv) * kv.head_dim;
  for (int s = 0; s < layout.seqs; ++s)
    for (int64_t j = 0; j < layout.sk(s); ++j)
      copy_rows(pages, kv.offset(s, j, 0), out, layout.kv_offset(s, j, 0), row);
  return out;
}

}  // namespace sinkbench
