// reports/table.cpp — column lists of schema v1 and the builders of their rows.
#include "reports/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "bench/flop_model.h"
#include "core/error.h"

namespace sinkbench {

size_t Table::index(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return i;
  throw InternalError("no column '" + name + "'");
}
const std::string& Table::text(size_t row, const std::string& column) const {
  return std::get<std::string>(rows[row][index(column)]);
}
int64_t Table::integer(size_t row, const std::string& column) const {
  return std::get<int64_t>(rows[row][index(column)]);
}
double Table::number(size_t row, const std::string& column) const {
  return std::get<double>(rows[row][index(column)]);
}

const std::vector<Column>& case_columns() {
  static const std::vector<Column> cols = {
      {"case_id", Kind::str},
      {"label", Kind::str},
      {"canonical", Kind::str},
      {"dtype", Kind::str},
      {"mask", Kind::str},
      {"window", Kind::i64},
      {"sink_tokens", Kind::i64},
      {"batch", Kind::i64},
      {"seqs", Kind::i64},
      {"sq", Kind::i64},
      {"sk", Kind::i64},
      {"total_q", Kind::i64},
      {"total_k", Kind::i64},
      {"heads_q", Kind::i64},
      {"heads_kv", Kind::i64},
      {"gqa", Kind::i64},
      {"head_dim", Kind::i64},
      {"scale", Kind::f64},
      {"sink", Kind::str},
      {"input", Kind::str},
      {"seed", Kind::i64},
      {"page_size", Kind::i64},
      {"sample_rows", Kind::i64},
      {"sample_heads", Kind::i64},
      {"evaluated_rows", Kind::i64},
      {"evaluated_heads", Kind::i64},
      {"visible_pairs", Kind::f64},
      {"flops", Kind::f64},
      {"oracle_seconds", Kind::f64, true},
  };
  return cols;
}

namespace {

// Gradient columns, one block after the forward's: the backward verdict, then these metrics per
// gradient, named "<gradient>_<metric>" (dq_budget, dsinks_nan_count, ...), then its timing.
struct GradField {
  const char* name;
  Kind kind;
  Value (*get)(const GradMetrics&);
};

const std::vector<GradField>& grad_fields() {
  static const std::vector<GradField> f = {
      {"elements", Kind::i64, [](const GradMetrics& m) { return Value(m.elements); }},
      {"max_abs", Kind::f64, [](const GradMetrics& m) { return Value(m.max_abs); }},
      {"rel_l2", Kind::f64, [](const GradMetrics& m) { return Value(m.rel_l2); }},
      {"cw", Kind::f64, [](const GradMetrics& m) { return Value(m.cw); }},
      {"floor_cw", Kind::f64, [](const GradMetrics& m) { return Value(m.floor_cw); }},
      {"floor_ratio", Kind::f64, [](const GradMetrics& m) { return Value(m.floor_ratio); }},
      {"budget", Kind::f64, [](const GradMetrics& m) { return Value(m.budget); }},
      {"nan_count", Kind::i64, [](const GradMetrics& m) { return Value(m.nan_count); }},
      {"inf_count", Kind::i64, [](const GradMetrics& m) { return Value(m.inf_count); }},
      {"worst_seq", Kind::i64, [](const GradMetrics& m) { return Value(int64_t(m.worst_seq)); }},
      {"worst_row", Kind::i64, [](const GradMetrics& m) { return Value(m.worst_row); }},
      {"worst_head", Kind::i64, [](const GradMetrics& m) { return Value(int64_t(m.worst_head)); }},
      {"worst_dim", Kind::i64, [](const GradMetrics& m) { return Value(int64_t(m.worst_dim)); }},
      {"worst_got", Kind::f64, [](const GradMetrics& m) { return Value(m.worst_got); }},
      {"worst_want", Kind::f64, [](const GradMetrics& m) { return Value(m.worst_want); }},
  };
  return f;
}

std::vector<Column> with_grad_columns(std::vector<Column> cols) {
  for (const char* name : {"grad_status", "grad_bound", "grad_detail"})
    cols.push_back({name, Kind::str});
  for (Grad g : kGrads)
    for (const GradField& f : grad_fields())
      cols.push_back({std::string(grad_name(g)) + "_" + f.name, f.kind});
  cols.push_back({"bwd_seconds", Kind::f64, true});
  return cols;
}

// Forward-only cases: empty verdict texts; metrics NaN (counts 0) unless judged.
Row with_grad_values(Row row, const Outcome& r) {
  const std::optional<Verdict>& v = r.grad_verdict;
  const bool judged = v && (v->status == Status::pass || v->status == Status::fail);
  row.push_back(v ? std::string(status_name(v->status)) : "");
  row.push_back(v ? v->bound : "");
  row.push_back(v ? v->detail : "");
  for (Grad g : kGrads)
    for (const GradField& f : grad_fields())
      row.push_back(judged                ? f.get(r.grad_metrics.of(g))
                    : f.kind == Kind::i64 ? Value(int64_t(0))
                                          : Value(double(NAN)));
  row.push_back(r.bwd_seconds);
  return row;
}

}  // namespace

const std::vector<Column>& result_columns() {
  static const std::vector<Column> cols = with_grad_columns({
      {"case_id", Kind::str},
      {"impl", Kind::str},
      {"family", Kind::str},
      {"device", Kind::str},
      {"dtype", Kind::str},
      {"mask", Kind::str},
      {"status", Kind::str},
      {"bound", Kind::str},
      {"detail", Kind::str},
      {"elements", Kind::i64},
      {"max_abs", Kind::f64},
      {"rel_l2", Kind::f64},
      {"cw", Kind::f64},
      {"floor_cw", Kind::f64},
      {"floor_l2", Kind::f64},
      {"floor_ratio", Kind::f64},
      {"o_budget", Kind::f64},
      {"lse_abs", Kind::f64},
      {"lse_budget", Kind::f64},
      {"nan_count", Kind::i64},
      {"inf_count", Kind::i64},
      {"lse_nan_count", Kind::i64},
      {"worst_seq", Kind::i64},
      {"worst_row", Kind::i64},
      {"worst_head", Kind::i64},
      {"worst_dim", Kind::i64},
      {"worst_got", Kind::f64},
      {"worst_want", Kind::f64},
      {"min_floor_ratio", Kind::f64},
      {"flops", Kind::f64},
      {"seconds", Kind::f64, true},
      {"wall_seconds", Kind::f64, true},
  });
  return cols;
}

Row case_row(const CaseSpec& c, int64_t evaluated_rows, int64_t evaluated_heads,
             double oracle_seconds) {
  const Layout L = make_layout(c);
  const double pairs = pair_count(c);
  return {case_id(c),
          case_label(c),
          canonical(c),
          std::string(dtype_name(c.dtype)),
          std::string(mask_name(c.mask.kind)),
          int64_t(c.mask.window),
          int64_t(c.mask.sink_tokens),
          int64_t(c.batch),
          int64_t(c.num_seqs()),
          int64_t(c.seqlen_q),
          int64_t(c.seqlen_k),
          L.total_q(),
          L.total_k(),
          int64_t(c.heads_q),
          int64_t(c.heads_kv),
          int64_t(c.gqa()),
          int64_t(c.head_dim),
          double(c.scale_f32()),
          sink_name(c.sink),
          std::string(input_name(c.input)),
          int64_t(c.seed),  // bit pattern of the unsigned seed
          int64_t(c.page_size),
          c.sample_rows,
          int64_t(c.sample_heads),
          evaluated_rows,
          evaluated_heads,
          pairs,
          forward_flops_of_pairs(pairs, c.head_dim),
          oracle_seconds};
}

Row result_row(const CaseSpec& c, const Outcome& r) {
  const Metrics& m = r.metrics;
  Row row{case_id(c),
          r.impl,
          r.family,
          r.device,
          std::string(dtype_name(c.dtype)),
          std::string(mask_name(c.mask.kind)),
          std::string(status_name(r.verdict.status)),
          r.verdict.bound,
          r.verdict.detail,
          m.elements,
          m.max_abs,
          m.rel_l2,
          m.cw,
          m.floor_cw,
          m.floor_l2,
          m.floor_ratio,
          m.o_budget,
          m.lse_abs,
          m.lse_budget,
          m.nan_count,
          m.inf_count,
          m.lse_nan_count,
          int64_t(m.worst_seq),
          m.worst_row,
          int64_t(m.worst_head),
          int64_t(m.worst_dim),
          m.worst_got,
          m.worst_want,
          r.min_floor_ratio.value_or(NAN),
          forward_flops(c),
          r.seconds,
          r.wall_seconds};
  return with_grad_values(std::move(row), r);
}

Row without_timing(const std::vector<Column>& columns, const Row& row) {
  Row out = row;
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].timing) out[i] = 0.0;
  return out;
}

namespace {
void sort_by(Table& t, const std::vector<std::string>& keys) {
  std::vector<size_t> idx;
  for (const auto& k : keys)
    idx.push_back(t.index(k));
  std::stable_sort(t.rows.begin(), t.rows.end(), [&](const Row& a, const Row& b) {
    for (size_t i : idx) {
      if (a[i] != b[i]) return a[i] < b[i];
    }
    return false;
  });
}
}  // namespace

void sort_results(Table& results) {
  sort_by(results, {"case_id", "impl"});
}
void sort_cases(Table& cases) {
  sort_by(cases, {"case_id"});
}

std::string to_text(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return fmt::format("{}", std::get<double>(v));
}

}  // namespace sinkbench
