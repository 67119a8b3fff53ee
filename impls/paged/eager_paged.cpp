// impls/paged/eager_paged.cpp — eager_paged on the CPU (implementation layer): the keys and values
// are gathered from the shuffled page pool through the block table into contiguous K/V, then run
// through the eager algorithm with transformers' eager_paged softmax (fp32, cast to the dtype).
#include "impls/eager_concat/eager_concat.h"
#include "impls/paged/paged.h"

namespace sinkbench {

ForwardResult eager_paged_forward(const CaseSpec& c, const Inputs& in, EagerOptions opt) {
  const PagedKV kv = build_paged_kv(c, in);
  Inputs gathered;
  gathered.layout = in.layout;
  gathered.q = in.q;
  gathered.k = gather_pages(kv, kv.k_pages, in.layout);
  gathered.v = gather_pages(kv, kv.v_pages, in.layout);
  gathered.sinks = in.sinks;
  gathered.scale = in.scale;
  opt.softmax_fp32 = true;
  return eager_concat_forward(c, gathered, opt);
}

}  // namespace sinkbench
