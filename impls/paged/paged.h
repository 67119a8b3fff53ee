// impls/paged/paged.h — the paged family on the CPU (implementation layer): a paged KV cache
// (fixed-size pages, shuffled, a block table per sequence), eager_paged (gather, then eager with
// the fp32 softmax) and flash_paged (online softmax reading pages through the block table, with
// split-KV decode and a combine step that adds the sink once). docs/impls/paged.md.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "impls/eager_concat/eager_concat.h"
#include "impls/faults.h"
#include "impls/impl.h"

namespace sinkbench {

// Page size used when CaseSpec::page_size is 0 (an unpaged case run through a paged impl).
inline constexpr int kDefaultPageSize = 64;
// Page sizes the paged implementations accept (those the paged kernels are built for).
inline constexpr int kMinPageSize = 16;
inline constexpr int kMaxPageSize = 256;

int effective_page_size(const CaseSpec& c);
// ok for every valid case whose page size is 0 or in [kMinPageSize, kMaxPageSize].
Support paged_supports(const CaseSpec& c);

// K and V in a pool of pages [num_pages, page_size, Hkv, D] (case dtype). Logical page t of
// sequence s lives in physical page block_table[s][t]; slot j % page_size of it holds key j. Slots
// past a sequence's length are NaN, so reading one shows up in the output.
struct PagedKV {
  int page_size = 0;
  int heads_kv = 0;
  int head_dim = 0;
  int64_t num_pages = 0;
  Tensor k_pages;
  Tensor v_pages;
  std::vector<std::vector<int64_t>> block_table;  // per sequence
  std::vector<int64_t> seq_lens;                  // keys per sequence

  // Element offset of (sequence s, key j, KV head h, dim 0) in k_pages / v_pages.
  int64_t offset(int s, int64_t j, int h) const {
    const int64_t page = block_table[size_t(s)][size_t(j / page_size)];
    return ((page * page_size + j % page_size) * heads_kv + h) * head_dim;
  }
};

// The pool's shape and the block tables of a case, without the pages' contents (k_pages and
// v_pages left empty): build_paged_kv's, for callers that fill the pool elsewhere (the device).
PagedKV paged_layout(const CaseSpec& c, const Layout& layout);
// Copies in.k / in.v into pages whose physical order is a Sattolo shuffle (a single cycle, so no
// page stays in place) keyed by (case seed, rng::kPages).
PagedKV build_paged_kv(const CaseSpec& c, const Inputs& in);
// K or V back in the packed layout of in.k, read through the block table.
Tensor gather_pages(const PagedKV& kv, const Tensor& pages, const Layout& layout);

// eager_paged: gather, then eager_concat_forward with the options (softmax_fp32 always set).
ForwardResult eager_paged_forward(const CaseSpec& c, const Inputs& in, EagerOptions opt);

struct FlashPagedOptions {
  int num_splits = 0;  // split-KV partials per row; 0: the heuristic (pick_num_splits)
  Faults faults;       // planted defects for tests; all off by default
};

// Decode rows (sq <= 16) get one split per 256 keys, at most 16; prefill rows get one.
int pick_num_splits(int64_t sq, int64_t sk);

ForwardResult flash_paged_forward(const CaseSpec& c, const Inputs& in,
                                  const FlashPagedOptions& opt);

std::unique_ptr<Impl> make_eager_paged_cpu(EagerOptions opt = {});
std::unique_ptr<Impl> make_flash_paged_cpu(FlashPagedOptions opt = {});

}  // namespace sinkbench
