// impls/cuda/attn_params.cpp — the host side of the attention params base: what a case and its
// packed layout decide (CUDA implementation layer, compiled by the C++ compiler).
#include "impls/cuda/attn_params.h"

#include "cases/case_spec.h"

namespace sinkbench::cuda {

void fill_attn_params(AttnParams& p, const CaseSpec& c, const Layout& layout) {
  p.q_row_stride = int64_t(c.heads_q) * c.head_dim;
  p.q_head_stride = c.head_dim;
  p.k_row_stride = int64_t(c.heads_kv) * c.head_dim;
  p.k_head_stride = c.head_dim;
  p.v_row_stride = p.k_row_stride;
  p.v_head_stride = c.head_dim;
  p.o_row_stride = p.q_row_stride;
  p.o_head_stride = c.head_dim;
  const Layout::LseStrides lse = layout.lse_strides();
  p.lse_seq_stride = lse.seq_stride;
  p.lse_head_stride = lse.head_stride;
  p.lse_packed_rows = lse.packed_rows;
  p.num_seqs = layout.seqs;
  p.heads_q = c.heads_q;
  p.heads_kv = c.heads_kv;
  p.head_dim = c.head_dim;
  p.mask = c.mask;
  p.scale = c.scale_f32();
  p.scale_log2 = p.scale * 1.4426950408889634f;
}

}  // namespace sinkbench::cuda
