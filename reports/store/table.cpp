// reports/store/table.cpp — the column declarations of the results schema and the builders of their
// rows. Each column is declared once here: its name, kind, getter, description and the schema
// version that added it; everything that stores, reads or shows a row goes through this list.
#include "reports/store/table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "cases/flop_model.h"
#include "core/error.h"

namespace sinkbench {
namespace {

using C = CaseFacts;
using R = ResultFacts;

std::vector<ColumnDef<CaseFacts>>& mutable_case_schema() {
  static std::vector<ColumnDef<C>> cols = {
      {"case_id", Kind::str, [](const C& x) -> Value { return case_id(x.spec); },
       "64-bit hash of the canonical spec, hex"},
      {"label", Kind::str, [](const C& x) -> Value { return case_label(x.spec); },
       "short readable name of the case"},
      {"canonical", Kind::str, [](const C& x) -> Value { return canonical(x.spec); },
       "every field of the spec, the text the id hashes"},
      {"dtype", Kind::str,
       [](const C& x) -> Value { return std::string(dtype_name(x.spec.dtype)); },
       "input and output dtype"},
      {"mask", Kind::str,
       [](const C& x) -> Value { return std::string(mask_name(x.spec.mask.kind)); }, "mask kind"},
      {"window", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.mask.window); },
       "sliding window length", 1, false, Range::count},
      {"sink_tokens", Kind::i64,
       [](const C& x) -> Value { return int64_t(x.spec.mask.sink_tokens); },
       "always-visible leading keys of the mask", 1, false, Range::count},
      {"batch", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.batch); }, "batch size",
       1, false, Range::count},
      {"seqs", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.num_seqs()); },
       "sequences (varlen)", 1, false, Range::count},
      {"sq", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.seqlen_q); },
       "query length", 1, false, Range::count},
      {"sk", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.seqlen_k); }, "key length",
       1, false, Range::count},
      {"total_q", Kind::i64, [](const C& x) -> Value { return make_layout(x.spec).total_q(); },
       "query rows over all sequences", 1, false, Range::count},
      {"total_k", Kind::i64, [](const C& x) -> Value { return make_layout(x.spec).total_k(); },
       "key rows over all sequences", 1, false, Range::count},
      {"heads_q", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.heads_q); },
       "query heads", 1, false, Range::count},
      {"heads_kv", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.heads_kv); },
       "key/value heads", 1, false, Range::count},
      {"gqa", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.gqa()); },
       "query heads per key/value head", 1, false, Range::count},
      {"head_dim", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.head_dim); },
       "head dimension D", 1, false, Range::count},
      {"scale", Kind::f64, [](const C& x) -> Value { return double(x.spec.scale_f32()); },
       "softmax scale"},
      {"sink", Kind::str, [](const C& x) -> Value { return sink_name(x.spec.sink); },
       "learned sink values"},
      {"input", Kind::str,
       [](const C& x) -> Value { return std::string(input_name(x.spec.input)); },
       "input distribution"},
      {"seed", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.seed); },
       "int64 bit pattern of the unsigned seed"},
      {"page_size", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.page_size); },
       "KV page size of paged implementations", 1, false, Range::count},
      {"sample_rows", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.sample_rows); },
       "query rows the oracle evaluates (0: all)", 1, false, Range::count},
      {"sample_heads", Kind::i64, [](const C& x) -> Value { return int64_t(x.spec.sample_heads); },
       "heads the oracle evaluates (0: all)", 1, false, Range::count},
      {"evaluated_rows", Kind::i64, [](const C& x) -> Value { return x.evaluated_rows; },
       "query rows judged", 1, false, Range::count},
      {"evaluated_heads", Kind::i64, [](const C& x) -> Value { return x.evaluated_heads; },
       "heads judged", 1, false, Range::count},
      {"visible_pairs", Kind::f64, [](const C& x) -> Value { return pair_count(x.spec); },
       "(query, key) pairs the mask lets through"},
      {"flops", Kind::f64,
       [](const C& x) -> Value {
         return forward_flops_of_pairs(pair_count(x.spec), x.spec.head_dim);
       },
       "4·D·visible pairs"},
      {"oracle_seconds", Kind::f64, [](const C& x) -> Value { return x.oracle_seconds; },
       "time the FP64 oracle took", 1, true, Range::seconds},
  };
  return cols;
}

const Metrics& m(const R& x) {
  return x.outcome.metrics;
}

// A gradient's metric, as its columns "<gradient>_<metric>" (dq_budget, dsinks_nan_count, ...).
struct GradField {
  const char* name;
  Kind kind;
  Value (*get)(const GradMetrics&);
  const char* description;
  Range range = Range::any;
};

const std::vector<GradField>& grad_fields() {
  static const std::vector<GradField> f = {
      {"elements", Kind::i64, [](const GradMetrics& g) { return Value(g.elements); },
       "judged elements", Range::count},
      {"max_abs", Kind::f64, [](const GradMetrics& g) { return Value(g.max_abs); }, "max |g^ - g|"},
      {"rel_l2", Kind::f64, [](const GradMetrics& g) { return Value(g.rel_l2); },
       "||g^ - g|| / ||g||"},
      {"cw", Kind::f64, [](const GradMetrics& g) { return Value(g.cw); },
       "componentwise error in units of u times the gradient's error scale"},
      {"floor_cw", Kind::f64, [](const GradMetrics& g) { return Value(g.floor_cw); },
       "cw of the exactly rounded gradient"},
      {"floor_ratio", Kind::f64, [](const GradMetrics& g) { return Value(g.floor_ratio); },
       "rel_l2 over that of the exactly rounded gradient"},
      {"budget", Kind::f64, [](const GradMetrics& g) { return Value(g.budget); },
       "max |g^ - g| / bound (passes when <= 1)"},
      {"nan_count", Kind::i64, [](const GradMetrics& g) { return Value(g.nan_count); },
       "NaN where the oracle is finite", Range::count},
      {"inf_count", Kind::i64, [](const GradMetrics& g) { return Value(g.inf_count); }, "±inf",
       Range::count},
      {"worst_seq", Kind::i64, [](const GradMetrics& g) { return Value(int64_t(g.worst_seq)); },
       "sequence of the element with the largest budget"},
      {"worst_row", Kind::i64, [](const GradMetrics& g) { return Value(g.worst_row); },
       "its row (query row for dq, key row for dk/dv)"},
      {"worst_head", Kind::i64, [](const GradMetrics& g) { return Value(int64_t(g.worst_head)); },
       "its head"},
      {"worst_dim", Kind::i64, [](const GradMetrics& g) { return Value(int64_t(g.worst_dim)); },
       "its dimension"},
      {"worst_got", Kind::f64, [](const GradMetrics& g) { return Value(g.worst_got); },
       "the implementation's value there"},
      {"worst_want", Kind::f64, [](const GradMetrics& g) { return Value(g.worst_want); },
       "the oracle's value there"},
  };
  return f;
}

bool grad_judged(const Outcome& r) {
  const std::optional<Verdict>& v = r.grad_verdict;
  return v && (v->status == Status::pass || v->status == Status::fail);
}

// The backward's columns, added in schema 2 after the forward's: its verdict, the metrics of
// each gradient (forward-only or unjudged rows: NaN, counts 0), its timing.
void add_gradient_columns(std::vector<ColumnDef<ResultFacts>>& cols) {
  cols.push_back({"grad_status", Kind::str,
                  [](const R& x) -> Value {
                    const auto& v = x.outcome.grad_verdict;
                    return v ? std::string(status_name(v->status)) : std::string();
                  },
                  "the backward verdict: pass, fail, skip, error, or empty without a backward", 2});
  cols.push_back({"grad_bound", Kind::str,
                  [](const R& x) -> Value {
                    const auto& v = x.outcome.grad_verdict;
                    return v ? v->bound : std::string();
                  },
                  "the failed gradient bound", 2});
  cols.push_back({"grad_detail", Kind::str,
                  [](const R& x) -> Value {
                    const auto& v = x.outcome.grad_verdict;
                    return v ? v->detail : std::string();
                  },
                  "the backward verdict's sentence or skip reason", 2});
  for (const Grad g : kGrads)
    for (const GradField& f : grad_fields())
      cols.push_back({std::string(grad_name(g)) + "_" + f.name, f.kind,
                      [g, get = f.get, kind = f.kind](const R& x) -> Value {
                        if (grad_judged(x.outcome)) return get(x.outcome.grad_metrics.of(g));
                        return kind == Kind::i64 ? Value(int64_t(0)) : Value(double(NAN));
                      },
                      std::string(grad_name(g)) + ": " + f.description, 2, false, f.range});
  cols.push_back({"bwd_seconds", Kind::f64,
                  [](const R& x) -> Value { return x.outcome.bwd_seconds; },
                  "the implementation's own timing of the backward", 2, true, Range::seconds});
}

std::vector<ColumnDef<ResultFacts>>& mutable_result_schema() {
  static std::vector<ColumnDef<R>> cols = [] {
    std::vector<ColumnDef<R>> forward = {
        {"case_id", Kind::str, [](const R& x) -> Value { return case_id(x.spec); },
         "the case's id (cases.case_id)"},
        {"impl", Kind::str, [](const R& x) -> Value { return x.outcome.impl; },
         "implementation name (family/device)"},
        {"family", Kind::str, [](const R& x) -> Value { return x.outcome.family; },
         "algorithm family"},
        {"device", Kind::str, [](const R& x) -> Value { return x.outcome.device; },
         "cpu, cuda or external"},
        {"dtype", Kind::str,
         [](const R& x) -> Value { return std::string(dtype_name(x.spec.dtype)); },
         "the case's dtype"},
        {"mask", Kind::str,
         [](const R& x) -> Value { return std::string(mask_name(x.spec.mask.kind)); },
         "the case's mask kind"},
        {"status", Kind::str,
         [](const R& x) -> Value { return std::string(status_name(x.outcome.verdict.status)); },
         "pass, fail, skip or error", 1, false, Range::status},
        {"bound", Kind::str, [](const R& x) -> Value { return x.outcome.verdict.bound; },
         "the failed bound: nan, inf, lse_nan, o_bound, lse_bound, floor_ratio_min"},
        {"detail", Kind::str, [](const R& x) -> Value { return x.outcome.verdict.detail; },
         "the verdict's sentence, the skip reason or the error message"},
        {"diagnosis", Kind::str, [](const R& x) -> Value { return x.outcome.diagnosis; },
         "the known defects that explain a failure (oracle/defects.h), or that none does", 2},
        {"elements", Kind::i64, [](const R& x) -> Value { return m(x).elements; },
         "judged output elements", 1, false, Range::count},
        {"max_abs", Kind::f64, [](const R& x) -> Value { return m(x).max_abs; }, "max |o^ - o|"},
        {"rel_l2", Kind::f64, [](const R& x) -> Value { return m(x).rel_l2; },
         "||o^ - o|| / ||o||"},
        {"cw", Kind::f64, [](const R& x) -> Value { return m(x).cw; },
         "componentwise error in units of u·P|V|"},
        {"floor_cw", Kind::f64, [](const R& x) -> Value { return m(x).floor_cw; },
         "cw of the exactly rounded output"},
        {"floor_l2", Kind::f64, [](const R& x) -> Value { return m(x).floor_l2; },
         "rel_l2 of the exactly rounded output"},
        {"floor_ratio", Kind::f64, [](const R& x) -> Value { return m(x).floor_ratio; },
         "rel_l2 / floor_l2"},
        {"o_budget", Kind::f64, [](const R& x) -> Value { return m(x).o_budget; },
         "max |o^ - o| / bound (passes when <= 1)"},
        {"lse_abs", Kind::f64, [](const R& x) -> Value { return m(x).lse_abs; },
         "max |lse^ - lse|"},
        {"lse_budget", Kind::f64, [](const R& x) -> Value { return m(x).lse_budget; },
         "max |lse^ - lse| / lse bound (passes when <= 1)"},
        {"nan_count", Kind::i64, [](const R& x) -> Value { return m(x).nan_count; },
         "NaN in o^ where the oracle is finite", 1, false, Range::count},
        {"inf_count", Kind::i64, [](const R& x) -> Value { return m(x).inf_count; }, "±inf in o^",
         1, false, Range::count},
        {"lse_nan_count", Kind::i64, [](const R& x) -> Value { return m(x).lse_nan_count; },
         "NaN in lse^", 1, false, Range::count},
        {"worst_seq", Kind::i64, [](const R& x) -> Value { return int64_t(m(x).worst_seq); },
         "sequence of the element with the largest o_budget"},
        {"worst_row", Kind::i64, [](const R& x) -> Value { return m(x).worst_row; },
         "its query row"},
        {"worst_head", Kind::i64, [](const R& x) -> Value { return int64_t(m(x).worst_head); },
         "its head"},
        {"worst_dim", Kind::i64, [](const R& x) -> Value { return int64_t(m(x).worst_dim); },
         "its dimension"},
        {"worst_got", Kind::f64, [](const R& x) -> Value { return m(x).worst_got; },
         "the implementation's value there"},
        {"worst_want", Kind::f64, [](const R& x) -> Value { return m(x).worst_want; },
         "the oracle's value there"},
        {"min_floor_ratio", Kind::f64,
         [](const R& x) -> Value { return x.outcome.min_floor_ratio.value_or(NAN); },
         "the implementation's predicted floor ratio (NaN: none)"},
        {"flops", Kind::f64, [](const R& x) -> Value { return forward_flops(x.spec); },
         "4·D·visible pairs"},
        {"seconds", Kind::f64, [](const R& x) -> Value { return x.outcome.seconds; },
         "the implementation's own timing, else wall", 1, true, Range::seconds},
        {"wall_seconds", Kind::f64, [](const R& x) -> Value { return x.outcome.wall_seconds; },
         "host time around forward()", 1, true, Range::seconds},
    };
    add_gradient_columns(forward);
    return forward;
  }();
  return cols;
}

template <typename Facts>
std::vector<Column> columns_of(const std::vector<ColumnDef<Facts>>& defs) {
  std::vector<Column> out;
  for (const auto& d : defs)
    out.push_back(d.column());
  return out;
}

template <typename Facts>
Row row_of(const std::vector<ColumnDef<Facts>>& defs, const Facts& facts) {
  Row row;
  row.reserve(defs.size());
  for (const auto& d : defs)
    row.push_back(d.get(facts));
  return row;
}

std::vector<Column>& result_column_cache() {
  static std::vector<Column> cols = columns_of(mutable_result_schema());
  return cols;
}

bool is_status(const std::string& s) {
  return s == "pass" || s == "fail" || s == "skip" || s == "error";
}

}  // namespace

const std::vector<ColumnDef<CaseFacts>>& case_schema() {
  return mutable_case_schema();
}
const std::vector<ColumnDef<ResultFacts>>& result_schema() {
  return mutable_result_schema();
}
const std::vector<Column>& case_columns() {
  static const std::vector<Column> cols = columns_of(case_schema());
  return cols;
}
const std::vector<Column>& result_columns() {
  return result_column_cache();
}

void add_result_column_for_test(ColumnDef<ResultFacts> def) {
  mutable_result_schema().push_back(std::move(def));
  result_column_cache() = columns_of(mutable_result_schema());
}

size_t Table::index(const std::string& name) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == name) return i;
  throw InternalError("no column '" + name + "'");
}
const Value& Table::value(size_t row, const std::string& column) const {
  return rows.at(row).at(index(column));
}

namespace {
template <typename T>
const T& typed(const Table& t, size_t row, const std::string& column) {
  const Value& v = t.value(row, column);
  if (const T* p = std::get_if<T>(&v)) return *p;
  throw InputError("column '" + column + "'",
                   std::holds_alternative<Absent>(v) ? "is absent from this file"
                                                     : "holds a value of another kind",
                   "a file that has the column");
}
}  // namespace

const std::string& Table::text(size_t row, const std::string& column) const {
  return typed<std::string>(*this, row, column);
}
int64_t Table::integer(size_t row, const std::string& column) const {
  return typed<int64_t>(*this, row, column);
}
double Table::number(size_t row, const std::string& column) const {
  return typed<double>(*this, row, column);
}
std::optional<double> Table::maybe_number(size_t row, const std::string& column) const {
  const Value& v = value(row, column);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<int64_t>(&v)) return double(*i);
  return std::nullopt;
}
bool Table::absent(const std::string& column) const {
  const size_t c = index(column);
  return std::all_of(rows.begin(), rows.end(),
                     [&](const Row& r) { return std::holds_alternative<Absent>(r.at(c)); });
}

Row case_row(const CaseSpec& c, int64_t evaluated_rows, int64_t evaluated_heads,
             double oracle_seconds) {
  return row_of(case_schema(), CaseFacts{c, evaluated_rows, evaluated_heads, oracle_seconds});
}

Row result_row(const CaseSpec& c, const Outcome& r) {
  return row_of(result_schema(), ResultFacts{c, r});
}

Row without_timing(const std::vector<Column>& columns, const Row& row) {
  Row out = row;
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].timing && !std::holds_alternative<Absent>(out[i])) out[i] = 0.0;
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
  if (const auto* d = std::get_if<double>(&v)) return fmt::format("{}", *d);
  return "—";
}

std::string implausible(const Column& col, const Value& v) {
  if (std::holds_alternative<Absent>(v)) return "";
  const bool kind_ok = (col.kind == Kind::str && std::holds_alternative<std::string>(v)) ||
                       (col.kind == Kind::i64 && std::holds_alternative<int64_t>(v)) ||
                       (col.kind == Kind::f64 && std::holds_alternative<double>(v));
  if (!kind_ok)
    return col.kind == Kind::str ? "a string" : col.kind == Kind::i64 ? "an integer" : "a number";
  switch (col.range) {
    case Range::any:
      return "";
    case Range::count:
      return std::get<int64_t>(v) >= 0 ? "" : "a count >= 0";
    case Range::seconds: {
      const double s = std::get<double>(v);
      return s == 0 || (std::isnormal(s) && s >= 1e-12 && s <= 1e7)
                 ? ""
                 : "0 (not timed) or a time between 1e-12 s and 1e7 s";
    }
    case Range::status:
      return is_status(std::get<std::string>(v)) ? "" : "pass, fail, skip or error";
  }
  return "";
}

void check_plausible(const Table& t, const std::string& where, const std::string& table_name) {
  for (size_t r = 0; r < t.rows.size(); ++r)
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const std::string want = implausible(t.columns[c], t.rows[r].at(c));
      if (!want.empty())
        throw InputError(where,
                         fmt::format("{} row {} column '{}' holds {} (corrupt?)", table_name, r,
                                     t.columns[c].name, to_text(t.rows[r][c])),
                         want);
    }
}

}  // namespace sinkbench
