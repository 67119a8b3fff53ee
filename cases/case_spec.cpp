// cases/case_spec.cpp — names, parsing, validation, ids and layout of a CaseSpec.
#include "cases/case_spec.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "core/error.h"

namespace sinkbench {

std::string_view mask_name(MaskKind k) {
  switch (k) {
    case MaskKind::none:
      return "none";
    case MaskKind::causal:
      return "causal";
    case MaskKind::sliding_window:
      return "sliding_window";
    case MaskKind::sink_tokens:
      return "sink_tokens";
  }
  return "?";
}

std::string_view input_name(InputDist d) {
  switch (d) {
    case InputDist::normal:
      return "normal";
    case InputDist::uniform:
      return "uniform";
    case InputDist::outliers:
      return "outliers";
    case InputDist::large_logits:
      return "large_logits";
  }
  return "?";
}

std::string sink_name(const SinkDist& s) {
  switch (s.kind) {
    case SinkKind::none:
      return "none";
    case SinkKind::normal:
      return fmt::format("normal:{}", s.a);
    case SinkKind::constant:
      return fmt::format("constant:{}", s.a);
    case SinkKind::extreme:
      return fmt::format("extreme:{}", s.a);
    case SinkKind::band:
      return fmt::format("band:{}:{}", s.a, s.b);
  }
  return "?";
}

std::string_view grad_name(GradKind g) {
  return g == GradKind::d_o ? "do" : "none";
}

std::string_view dlse_name(DlseKind d) {
  return d == DlseKind::normal ? "normal" : "none";
}

bool parse_grad(std::string_view s, GradKind* out) {
  for (GradKind g : {GradKind::none, GradKind::d_o}) {
    if (s == grad_name(g)) {
      *out = g;
      return true;
    }
  }
  return false;
}

bool parse_dlse(std::string_view s, DlseKind* out) {
  for (DlseKind d : {DlseKind::none, DlseKind::normal}) {
    if (s == dlse_name(d)) {
      *out = d;
      return true;
    }
  }
  return false;
}

bool parse_mask(std::string_view s, MaskKind* out) {
  for (MaskKind k :
       {MaskKind::none, MaskKind::causal, MaskKind::sliding_window, MaskKind::sink_tokens}) {
    if (s == mask_name(k)) {
      *out = k;
      return true;
    }
  }
  if (s == "window") {
    *out = MaskKind::sliding_window;
    return true;
  }
  return false;
}

bool parse_input(std::string_view s, InputDist* out) {
  for (InputDist d :
       {InputDist::normal, InputDist::uniform, InputDist::outliers, InputDist::large_logits}) {
    if (s == input_name(d)) {
      *out = d;
      return true;
    }
  }
  return false;
}

namespace {

bool parse_double(std::string_view s, double* out) {
  if (s.empty()) return false;
  std::string tmp(s);
  char* end = nullptr;
  *out = std::strtod(tmp.c_str(), &end);
  return end == tmp.c_str() + tmp.size() && std::isfinite(*out);
}

}  // namespace

bool parse_sink(std::string_view s, SinkDist* out) {
  const size_t c1 = s.find(':');
  const std::string_view kind = s.substr(0, c1);
  std::string_view rest = c1 == std::string_view::npos ? std::string_view() : s.substr(c1 + 1);
  SinkDist d;
  if (kind == "none") {
    d = {SinkKind::none, 0, 0};
    if (!rest.empty()) return false;
  } else if (kind == "normal" || kind == "constant" || kind == "extreme") {
    d.kind = kind == "normal"     ? SinkKind::normal
             : kind == "constant" ? SinkKind::constant
                                  : SinkKind::extreme;
    d.b = 0;
    if (rest.empty()) {
      if (d.kind != SinkKind::extreme) return false;
      d.a = 30;
    } else if (!parse_double(rest, &d.a)) {
      return false;
    }
  } else if (kind == "band") {
    const size_t c2 = rest.find(':');
    if (c2 == std::string_view::npos) return false;
    if (!parse_double(rest.substr(0, c2), &d.a) || !parse_double(rest.substr(c2 + 1), &d.b))
      return false;
    d.kind = SinkKind::band;
  } else {
    return false;
  }
  *out = d;
  return true;
}

float CaseSpec::scale_f32() const {
  return scale != 0 ? float(scale) : float(1.0 / std::sqrt(double(head_dim)));
}

void validate(const CaseSpec& c, const std::string& where) {
  auto fail = [&](const std::string& field, const std::string& what, const std::string& expected) {
    throw InputError(where, "field '" + field + "': " + what, expected);
  };
  if (c.varlen()) {
    if (c.varlen_k.size() != c.varlen_q.size())
      fail("varlen",
           fmt::format("{} query lengths but {} key lengths", c.varlen_q.size(), c.varlen_k.size()),
           "one [sq, sk] pair per sequence");
    for (size_t s = 0; s < c.varlen_q.size(); ++s) {
      if (c.varlen_q[s] < 1 || c.varlen_k[s] < 1)
        fail("varlen",
             fmt::format("sequence {} has lengths {}x{}", s, c.varlen_q[s], c.varlen_k[s]),
             "lengths >= 1");
    }
  } else {
    if (c.batch < 1) fail("batch", fmt::format("{}", c.batch), "batch >= 1");
    if (c.seqlen_q < 1) fail("sq", fmt::format("{}", c.seqlen_q), "sq >= 1");
    if (c.seqlen_k < 1) fail("sk", fmt::format("{}", c.seqlen_k), "sk >= 1");
  }
  if (c.heads_q < 1) fail("heads_q", fmt::format("{}", c.heads_q), "heads_q >= 1");
  if (c.heads_kv < 1) fail("heads_kv", fmt::format("{}", c.heads_kv), "heads_kv >= 1");
  if (c.heads_q % c.heads_kv != 0)
    fail("heads_kv",
         fmt::format("heads_q {} is not a multiple of heads_kv {}", c.heads_q, c.heads_kv),
         "heads_q % heads_kv == 0");
  if (c.head_dim < 8 || c.head_dim > 256 || c.head_dim % 8 != 0)
    fail("head_dim", fmt::format("{}", c.head_dim), "a multiple of 8 in [8, 256]");
  switch (c.mask.kind) {
    case MaskKind::none:
    case MaskKind::causal:
      if (c.mask.window != 0)
        fail("window", fmt::format("{} with mask {}", c.mask.window, mask_name(c.mask.kind)),
             "window only with mask sliding_window or sink_tokens");
      if (c.mask.sink_tokens != 0)
        fail("sink_tokens",
             fmt::format("{} with mask {}", c.mask.sink_tokens, mask_name(c.mask.kind)),
             "sink_tokens only with mask sink_tokens");
      break;
    case MaskKind::sliding_window:
      if (c.mask.window < 1) fail("window", fmt::format("{}", c.mask.window), "window >= 1");
      if (c.mask.sink_tokens != 0)
        fail("sink_tokens", "set with mask sliding_window",
             "mask sink_tokens for StreamingLLM tokens");
      break;
    case MaskKind::sink_tokens:
      if (c.mask.window < 1) fail("window", fmt::format("{}", c.mask.window), "window >= 1");
      if (c.mask.sink_tokens < 1)
        fail("sink_tokens", fmt::format("{}", c.mask.sink_tokens), "sink_tokens >= 1");
      break;
  }
  if (!(c.scale >= 0) || !std::isfinite(c.scale))
    fail("scale", fmt::format("{}", c.scale), "a finite scale > 0, or 0 for 1/sqrt(head_dim)");
  if (c.sink.kind == SinkKind::band && !(c.sink.a >= 0 && c.sink.b >= c.sink.a))
    fail("sink", sink_name(c.sink), "band:lo:hi with 0 <= lo <= hi");
  if (c.sink.kind == SinkKind::normal && !(c.sink.a > 0))
    fail("sink", sink_name(c.sink), "normal:scale with scale > 0");
  if (c.page_size != 0 && (c.page_size < 1 || c.page_size > 4096))
    fail("page_size", fmt::format("{}", c.page_size), "0 (unpaged) or a page size in [1, 4096]");
  if (c.sample_rows < 0) fail("sample_rows", fmt::format("{}", c.sample_rows), ">= 0");
  if (c.sample_heads < 0 || c.sample_heads > c.heads_q)
    fail("sample_heads", fmt::format("{}", c.sample_heads), "0 (all) or at most heads_q");
  if (c.dlse != DlseKind::none && !c.has_grad())
    fail("dlse", std::string(dlse_name(c.dlse)) + " with grad none", "dlse only with grad: do");
}

std::string canonical(const CaseSpec& c) {
  std::string s = fmt::format("dtype={};hq={};hkv={};d={};mask={};window={};sink_tokens={};",
                              dtype_name(c.dtype), c.heads_q, c.heads_kv, c.head_dim,
                              mask_name(c.mask.kind), c.mask.window, c.mask.sink_tokens);
  if (c.varlen()) {
    s += "varlen=";
    for (size_t i = 0; i < c.varlen_q.size(); ++i)
      s += fmt::format("{}{}x{}", i ? "," : "", c.varlen_q[i], c.varlen_k[i]);
    s += ";";
  } else {
    s += fmt::format("batch={};sq={};sk={};", c.batch, c.seqlen_q, c.seqlen_k);
  }
  s += fmt::format("scale={};sink={};input={};seed={};page_size={};sample_rows={};sample_heads={}",
                   c.scale, sink_name(c.sink), input_name(c.input), c.seed, c.page_size,
                   c.sample_rows, c.sample_heads);
  // Appended only when set, so the ids of forward-only cases stay what they were.
  if (c.grad != GradKind::none) s += fmt::format(";grad={}", grad_name(c.grad));
  if (c.dlse != DlseKind::none) s += fmt::format(";dlse={}", dlse_name(c.dlse));
  return s;
}

std::string case_id(const CaseSpec& c) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : canonical(c)) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  return fmt::format("{:016x}", h);
}

std::string case_label(const CaseSpec& c) {
  std::string mask(mask_name(c.mask.kind));
  if (c.mask.kind == MaskKind::sliding_window) mask = fmt::format("window{}", c.mask.window);
  if (c.mask.kind == MaskKind::sink_tokens)
    mask = fmt::format("sink_tokens{}+window{}", c.mask.sink_tokens, c.mask.window);
  const std::string shape =
      c.varlen() ? fmt::format("varlen{}", c.varlen_q.size())
                 : fmt::format("{}{}x{}", c.batch > 1 ? fmt::format("{}*", c.batch) : "",
                               c.seqlen_q, c.seqlen_k);
  const std::string grad = !c.has_grad() ? "" : c.has_dlse() ? " grad+dlse" : " grad";
  return fmt::format("{} {} {} h{}/{} d{} {}{}{}", dtype_name(c.dtype), mask, shape, c.heads_q,
                     c.heads_kv, c.head_dim, sink_name(c.sink),
                     c.input == InputDist::normal ? "" : fmt::format(" {}", input_name(c.input)),
                     grad);
}

Layout::LseStrides Layout::lse_strides() const {
  if (varlen) return {0, total_q(), true};
  const int64_t rows = seqs > 0 ? sq(0) : 0;
  return {int64_t(heads_q) * rows, rows, false};
}

int64_t Layout::lse_offset(int s, int h, int64_t i) const {
  const LseStrides st = lse_strides();
  return int64_t(s) * st.seq_stride + int64_t(h) * st.head_stride +
         (st.packed_rows ? cu_q[size_t(s)] + i : i);
}

Layout make_layout(const CaseSpec& c) {
  Layout l;
  l.seqs = c.num_seqs();
  l.heads_q = c.heads_q;
  l.heads_kv = c.heads_kv;
  l.head_dim = c.head_dim;
  l.varlen = c.varlen();
  l.cu_q.assign(size_t(l.seqs) + 1, 0);
  l.cu_k.assign(size_t(l.seqs) + 1, 0);
  for (int s = 0; s < l.seqs; ++s) {
    l.cu_q[size_t(s) + 1] = l.cu_q[size_t(s)] + c.sq(s);
    l.cu_k[size_t(s) + 1] = l.cu_k[size_t(s)] + c.sk(s);
  }
  return l;
}

double visible_pairs(const CaseSpec& c) {
  double pairs = 0;
  for (int s = 0; s < c.num_seqs(); ++s) {
    for (int64_t i = 0; i < c.sq(s); ++i)
      pairs += double(visible_count(c.mask, i, c.sq(s), c.sk(s)));
  }
  return pairs * c.heads_q;
}

}  // namespace sinkbench
