// impls/cpu_common.h — what every CPU reference does the same way: outputs poisoned before they
// are computed, and the parallel walk over independent (sequence, query head) pairs.
#pragma once

#include <cstdint>
#include <limits>

#include "cases/case_spec.h"
#include "impls/impl.h"

namespace sinkbench {

// o and lse filled with NaN: a row an implementation fails to write fails the verdict ("nan").
inline ForwardResult poisoned_outputs(const CaseSpec& c, const Layout& L) {
  ForwardResult out;
  out.o = Tensor(c.dtype, {L.total_q(), L.heads_q, L.head_dim});
  out.o.fill_nan();
  out.lse.assign(size_t(L.lse_size()), std::numeric_limits<float>::quiet_NaN());
  return out;
}

// fn(s, h, scratch) for every (sequence, query head) pair, in parallel with one Scratch per
// thread. Each pair writes only its own rows and never shares an accumulator, so the bits do not
// depend on the thread count.
template <typename Scratch, typename Fn>
void for_each_seq_head(const Layout& L, Fn&& fn) {
  const int64_t pairs = int64_t(L.seqs) * L.heads_q;
#pragma omp parallel
  {
    Scratch scratch;
#pragma omp for schedule(dynamic)
    for (int64_t t = 0; t < pairs; ++t)
      fn(int(t / L.heads_q), int(t % L.heads_q), scratch);
  }
}

}  // namespace sinkbench
