// cases/filter.cpp — parsing and evaluation of filter expressions.
#include "cases/filter.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <functional>

#include "core/error.h"

namespace sinkbench {
namespace {

struct Field {
  const char* name;
  bool numeric;
  std::function<std::string(const CaseSpec&)> text;
  std::function<double(const CaseSpec&)> number;
};

int64_t max_len(const CaseSpec& c, bool query) {
  int64_t m = 0;
  for (int s = 0; s < c.num_seqs(); ++s)
    m = std::max(m, query ? c.sq(s) : c.sk(s));
  return m;
}

const std::vector<Field>& fields() {
  static const std::vector<Field> f = {
      {"id", false, [](const CaseSpec& c) { return case_id(c); }, nullptr},
      {"dtype", false, [](const CaseSpec& c) { return std::string(dtype_name(c.dtype)); }, nullptr},
      {"mask", false, [](const CaseSpec& c) { return std::string(mask_name(c.mask.kind)); },
       nullptr},
      {"sink", false,
       [](const CaseSpec& c) {
         const std::string s = sink_name(c.sink);
         return s.substr(0, s.find(':'));
       },
       nullptr},
      {"input", false, [](const CaseSpec& c) { return std::string(input_name(c.input)); }, nullptr},
      {"grad", false, [](const CaseSpec& c) { return std::string(grad_name(c.grad)); }, nullptr},
      {"dlse", false, [](const CaseSpec& c) { return std::string(dlse_name(c.dlse)); }, nullptr},
      {"window", true, nullptr, [](const CaseSpec& c) { return double(c.mask.window); }},
      {"sink_tokens", true, nullptr, [](const CaseSpec& c) { return double(c.mask.sink_tokens); }},
      {"sq", true, nullptr, [](const CaseSpec& c) { return double(max_len(c, true)); }},
      {"sk", true, nullptr, [](const CaseSpec& c) { return double(max_len(c, false)); }},
      {"batch", true, nullptr, [](const CaseSpec& c) { return double(c.num_seqs()); }},
      {"hq", true, nullptr, [](const CaseSpec& c) { return double(c.heads_q); }},
      {"hkv", true, nullptr, [](const CaseSpec& c) { return double(c.heads_kv); }},
      {"gqa", true, nullptr, [](const CaseSpec& c) { return double(c.gqa()); }},
      {"d", true, nullptr, [](const CaseSpec& c) { return double(c.head_dim); }},
      {"page_size", true, nullptr, [](const CaseSpec& c) { return double(c.page_size); }},
      {"varlen", true, nullptr, [](const CaseSpec& c) { return c.varlen() ? 1.0 : 0.0; }},
      {"seed", true, nullptr, [](const CaseSpec& c) { return double(c.seed); }},
  };
  return f;
}

const Field* find_field(std::string_view name) {
  for (const Field& f : fields())
    if (name == f.name) return &f;
  return nullptr;
}

std::string trim(std::string_view s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return "";
  const size_t b = s.find_last_not_of(" \t");
  return std::string(s.substr(a, b - a + 1));
}

constexpr const char* kOperatorChars = "=!<>";
constexpr const char* kOperatorList = "= (or ==), !=, <, <=, >, >=";

// The operator as compare() knows it ("==" is "="), or "" for anything else.
std::string canonical_operator(const std::string& op) {
  if (op == "==") return "=";
  for (const char* known : {"=", "!=", "<", "<=", ">", ">="})
    if (op == known) return op;
  return "";
}

bool compare(double a, const std::string& op, double b) {
  if (op == "=") return a == b;
  if (op == "!=") return a != b;
  if (op == "<") return a < b;
  if (op == "<=") return a <= b;
  if (op == ">") return a > b;
  if (op == ">=") return a >= b;
  throw InternalError("filter operator '" + op + "' has no comparison");
}

}  // namespace

std::vector<std::string> filter_fields() {
  std::vector<std::string> names;
  for (const Field& f : fields())
    names.push_back(f.name);
  return names;
}

Filter Filter::parse(std::string_view expr, const std::string& where) {
  Filter f;
  f.text_ = std::string(expr);
  size_t start = 0;
  while (start <= expr.size()) {
    size_t end = expr.find(',', start);
    if (end == std::string_view::npos) end = expr.size();
    const std::string clause = trim(expr.substr(start, end - start));
    start = end + 1;
    if (clause.empty()) {
      if (end == expr.size()) break;
      throw InputError(where, "empty clause in '" + std::string(expr) + "'",
                       "clauses like dtype=bf16 separated by commas");
    }
    const size_t op_pos = clause.find_first_of(kOperatorChars);
    if (op_pos == std::string::npos || op_pos == 0)
      throw InputError(where, "clause '" + clause + "' has no field and operator",
                       std::string("field OP value with OP one of ") + kOperatorList);
    // The operator is the whole run of operator characters, so "==" and "=>" are read as
    // written, never as "=" or ">=" followed by part of the value.
    const size_t op_end = std::min(clause.find_first_not_of(kOperatorChars, op_pos), clause.size());
    Clause c;
    c.field = trim(clause.substr(0, op_pos));
    c.op = canonical_operator(clause.substr(op_pos, op_end - op_pos));
    c.value = trim(clause.substr(op_end));
    if (c.op.empty())
      throw InputError(where,
                       fmt::format("unknown operator '{}' after field '{}' in '{}'",
                                   clause.substr(op_pos, op_end - op_pos), c.field, clause),
                       std::string("one of ") + kOperatorList);
    const Field* field = find_field(c.field);
    if (!field)
      throw InputError(where, "unknown filter field '" + c.field + "'",
                       fmt::format("one of {}", fmt::join(filter_fields(), ", ")));
    if (c.value.empty())
      throw InputError(where, "clause '" + clause + "' has no value", "field OP value");
    c.numeric = field->numeric;
    if (c.numeric) {
      char* endp = nullptr;
      c.number = std::strtod(c.value.c_str(), &endp);
      if (endp != c.value.c_str() + c.value.size())
        throw InputError(where, "field '" + c.field + "' compared with '" + c.value + "'",
                         "a number");
    } else if (c.op != "=" && c.op != "!=") {
      throw InputError(where, "operator '" + c.op + "' on text field '" + c.field + "'",
                       "=, == or != for text fields");
    }
    f.clauses_.push_back(std::move(c));
  }
  return f;
}

bool Filter::matches(const CaseSpec& spec) const {
  for (const Clause& c : clauses_) {
    const Field* field = find_field(c.field);
    if (c.numeric) {
      if (!compare(field->number(spec), c.op, c.number)) return false;
    } else {
      const bool eq = field->text(spec) == c.value;
      if (eq != (c.op == "=")) return false;
    }
  }
  return true;
}

}  // namespace sinkbench
