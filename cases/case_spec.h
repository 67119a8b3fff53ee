// cases/case_spec.h — the case model: one attention problem (shapes, dtype, mask, sink and input
// distributions, seed), its validation, its stable id and the derived packed layout.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cases/mask.h"
#include "core/dtype.h"

namespace sinkbench {

enum class InputDist : uint8_t {
  normal,        // N(0, 1)
  uniform,       // U(-1, 1)
  outliers,      // N(0, 1) with every 16th channel (random offset) scaled by 20
  large_logits,  // N(0, 1) with q and k scaled by 4: logits of standard deviation ~16
};

enum class SinkKind : uint8_t {
  none,      // no sink: sigma = -inf, ordinary softmax attention
  normal,    // sigma ~ N(0, a^2)
  constant,  // sigma = a for every head
  extreme,   // sigma = +a on even heads, -a on odd heads (default a = 30)
  band,      // |sigma| ~ U(a, b) with a random sign (realistic: 4..8)
};

// Whether the case has a backward pass, and which gradients it feeds in (DESIGN §1, backward).
enum class GradKind : uint8_t {
  none,  // forward only
  d_o,   // "do": dL/do drawn from N(0, 1), rounded to the dtype
};

enum class DlseKind : uint8_t {
  none,    // the returned lse feeds no loss: dL/dlse = 0
  normal,  // dL/dlse drawn from N(0, 1) in fp32 (needs grad: do)
};

struct SinkDist {
  SinkKind kind = SinkKind::band;
  double a = 4;  // scale, value, magnitude or lower bound (see SinkKind)
  double b = 8;  // upper bound for band
};

struct CaseSpec {
  int batch = 1;                  // sequences (ignored when varlen is set)
  int64_t seqlen_q = 128;         // Sq per sequence
  int64_t seqlen_k = 128;         // Sk per sequence
  std::vector<int64_t> varlen_q;  // per-sequence Sq (packed varlen layout when non-empty)
  std::vector<int64_t> varlen_k;  // per-sequence Sk, same count as varlen_q
  int heads_q = 8;                // Hq
  int heads_kv = 8;               // Hkv; Hq % Hkv == 0
  int head_dim = 64;              // D
  DType dtype = DType::bf16;      // storage dtype of q, k, v, o (and the sink's bits)
  MaskRule mask;                  // visibility rule
  double scale = 0;               // logit scale; 0 means 1/sqrt(D)
  SinkDist sink;                  // learned sink values
  InputDist input = InputDist::normal;
  uint64_t seed = 1;               // keys every random draw of the case
  int page_size = 0;               // KV page size for paged implementations; 0: unpaged
  int64_t sample_rows = 0;         // evaluate this many query rows per sequence; 0: all
  int sample_heads = 0;            // evaluate this many query heads; 0: all
  GradKind grad = GradKind::none;  // backward pass and its dO
  DlseKind dlse = DlseKind::none;  // dL/dlse of the backward pass

  bool varlen() const { return !varlen_q.empty(); }
  int num_seqs() const { return varlen() ? int(varlen_q.size()) : batch; }
  int64_t sq(int s) const { return varlen() ? varlen_q[size_t(s)] : seqlen_q; }
  int64_t sk(int s) const { return varlen() ? varlen_k[size_t(s)] : seqlen_k; }
  int gqa() const { return heads_q / heads_kv; }
  bool has_sink() const { return sink.kind != SinkKind::none; }
  bool has_grad() const { return grad != GradKind::none; }
  bool has_dlse() const { return has_grad() && dlse != DlseKind::none; }
  // The fp32 scale every implementation uses (the oracle uses the same value in double).
  float scale_f32() const;
};

std::string_view mask_name(MaskKind k);
std::string_view input_name(InputDist d);
std::string sink_name(const SinkDist& s);  // "band:4:8", "normal:6", "none", ...
std::string_view grad_name(GradKind g);    // "none", "do"
std::string_view dlse_name(DlseKind d);    // "none", "normal"
bool parse_grad(std::string_view s, GradKind* out);
bool parse_dlse(std::string_view s, DlseKind* out);
bool parse_mask(std::string_view s, MaskKind* out);
bool parse_input(std::string_view s, InputDist* out);
bool parse_sink(std::string_view s, SinkDist* out);

// Throws InputError naming `where` and the offending field.
void validate(const CaseSpec& c, const std::string& where);

// Canonical text of every field (the id hashes this; stable across versions unless a field is
// added with a non-default value: grad and dlse appear only when set).
std::string canonical(const CaseSpec& c);
// 16 hex digits of a 64-bit FNV-1a hash of canonical(c).
std::string case_id(const CaseSpec& c);
// Short human label: "bf16 causal 113x203 h8/1 d64 band:4:8".
std::string case_label(const CaseSpec& c);

// Packed layout: q/o [total_q, Hq, D], k/v [total_k, Hkv, D] (identical to BSHD for equal
// lengths), lse [B, Hq, Sq] for fixed lengths and [Hq, total_q] for varlen.
struct Layout {
  int seqs = 0;
  int heads_q = 0, heads_kv = 0, head_dim = 0;
  bool varlen = false;
  std::vector<int64_t> cu_q;  // seqs + 1 prefix sums
  std::vector<int64_t> cu_k;
  int64_t total_q() const { return cu_q.back(); }
  int64_t total_k() const { return cu_k.back(); }
  int64_t sq(int s) const { return cu_q[size_t(s) + 1] - cu_q[size_t(s)]; }
  int64_t sk(int s) const { return cu_k[size_t(s) + 1] - cu_k[size_t(s)]; }
  int64_t q_offset(int s, int64_t i, int h) const {
    return ((cu_q[size_t(s)] + i) * heads_q + h) * head_dim;
  }
  int64_t kv_offset(int s, int64_t j, int h) const {
    return ((cu_k[size_t(s)] + j) * heads_kv + h) * head_dim;
  }
  // lse element of (sequence s, query head h, row i) = s * seq_stride + h * head_stride
  //   + (packed_rows ? cu_q[s] + i : i): [B, Hq, Sq] for fixed lengths, [Hq, total_q] for
  // varlen. The strides the kernels take; lse_offset is defined by them.
  struct LseStrides {
    int64_t seq_stride = 0;
    int64_t head_stride = 0;
    bool packed_rows = false;
  };
  LseStrides lse_strides() const;
  int64_t lse_offset(int s, int h, int64_t i) const;
  int64_t lse_size() const { return total_q() * heads_q; }
};
Layout make_layout(const CaseSpec& c);

// Visible (query, key) pairs summed over sequences and query heads (FLOPs = 4 * D * pairs).
double visible_pairs(const CaseSpec& c);

}  // namespace sinkbench
