// cases/suite.cpp — YAML suite loading and product expansion.
#include "cases/suite.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "cases/resources.h"
#include "core/error.h"

#ifndef SINKBENCH_SOURCE_DIR
#define SINKBENCH_SOURCE_DIR "."
#endif

namespace sinkbench {
namespace {

const std::vector<std::string> kFields = {
    "dtype",  "mask",    "window",    "sink_tokens", "batch",        "sq",    "sk",
    "varlen", "heads_q", "heads_kv",  "gqa",         "head_dim",     "scale", "sink",
    "input",  "seed",    "page_size", "sample_rows", "sample_heads", "grad",  "dlse"};

std::string at(const std::string& file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return file;
  return fmt::format("{}:{}:{}", file, m.line + 1, m.column + 1);
}

// A case under construction: gqa is applied after every other field.
struct Draft {
  CaseSpec spec;
  std::optional<int> gqa;
  std::string where;  // location of the last field set, for validation messages
};

template <typename T>
T scalar(const std::string& file, const std::string& key, const YAML::Node& v,
         const char* expected) {
  if (!v.IsScalar()) throw InputError(at(file, v), "field '" + key + "' is not a scalar", expected);
  try {
    return v.as<T>();
  } catch (const YAML::Exception&) {
    throw InputError(at(file, v), "field '" + key + "' has value '" + v.Scalar() + "'", expected);
  }
}

void apply_field(Draft& d, const std::string& file, const std::string& key, const YAML::Node& v) {
  CaseSpec& c = d.spec;
  d.where = at(file, v);
  auto text = [&](const char* expected) { return scalar<std::string>(file, key, v, expected); };
  if (key == "dtype") {
    if (!parse_dtype(text("fp32, fp16 or bf16"), &c.dtype))
      throw InputError(at(file, v), "field 'dtype' has value '" + v.Scalar() + "'",
                       "fp32, fp16 or bf16");
  } else if (key == "mask") {
    const char* expected = "none, causal, sliding_window or sink_tokens";
    if (!parse_mask(text(expected), &c.mask.kind))
      throw InputError(at(file, v), "field 'mask' has value '" + v.Scalar() + "'", expected);
  } else if (key == "window") {
    c.mask.window = scalar<int64_t>(file, key, v, "an integer >= 1");
  } else if (key == "sink_tokens") {
    c.mask.sink_tokens = scalar<int64_t>(file, key, v, "an integer >= 1");
  } else if (key == "batch") {
    c.batch = scalar<int>(file, key, v, "an integer >= 1");
  } else if (key == "sq") {
    c.seqlen_q = scalar<int64_t>(file, key, v, "an integer >= 1");
  } else if (key == "sk") {
    c.seqlen_k = scalar<int64_t>(file, key, v, "an integer >= 1");
  } else if (key == "varlen") {
    const char* expected = "a list of [sq, sk] pairs";
    if (!v.IsSequence()) throw InputError(at(file, v), "field 'varlen' is not a list", expected);
    c.varlen_q.clear();
    c.varlen_k.clear();
    for (const YAML::Node& pair : v) {
      if (!pair.IsSequence() || pair.size() != 2)
        throw InputError(at(file, pair), "field 'varlen' has an entry that is not a pair",
                         expected);
      c.varlen_q.push_back(scalar<int64_t>(file, key, pair[0], expected));
      c.varlen_k.push_back(scalar<int64_t>(file, key, pair[1], expected));
    }
  } else if (key == "heads_q") {
    c.heads_q = scalar<int>(file, key, v, "an integer >= 1");
  } else if (key == "heads_kv") {
    c.heads_kv = scalar<int>(file, key, v, "an integer >= 1");
    d.gqa.reset();
  } else if (key == "gqa") {
    d.gqa = scalar<int>(file, key, v, "an integer >= 1 dividing heads_q");
  } else if (key == "head_dim") {
    c.head_dim = scalar<int>(file, key, v, "a multiple of 8 in [8, 256]");
  } else if (key == "scale") {
    c.scale = scalar<double>(file, key, v, "a number > 0, or 0 for 1/sqrt(head_dim)");
  } else if (key == "sink") {
    const char* expected = "none, normal:S, constant:V, extreme[:V] or band:LO:HI";
    if (!parse_sink(text(expected), &c.sink))
      throw InputError(at(file, v), "field 'sink' has value '" + v.Scalar() + "'", expected);
  } else if (key == "input") {
    const char* expected = "normal, uniform, outliers or large_logits";
    if (!parse_input(text(expected), &c.input))
      throw InputError(at(file, v), "field 'input' has value '" + v.Scalar() + "'", expected);
  } else if (key == "seed") {
    c.seed = scalar<uint64_t>(file, key, v, "an unsigned integer");
  } else if (key == "page_size") {
    c.page_size = scalar<int>(file, key, v, "0 or a page size");
  } else if (key == "sample_rows") {
    c.sample_rows = scalar<int64_t>(file, key, v, "an integer >= 0");
  } else if (key == "sample_heads") {
    c.sample_heads = scalar<int>(file, key, v, "an integer >= 0");
  } else if (key == "grad") {
    if (!parse_grad(text("none or do"), &c.grad))
      throw InputError(at(file, v), "field 'grad' has value '" + v.Scalar() + "'", "none or do");
  } else if (key == "dlse") {
    if (!parse_dlse(text("none or normal"), &c.dlse))
      throw InputError(at(file, v), "field 'dlse' has value '" + v.Scalar() + "'",
                       "none or normal");
  } else {
    throw InputError(at(file, v), "unknown field '" + key + "'",
                     fmt::format("one of {}", fmt::join(kFields, ", ")));
  }
}

// The entries of a YAML map with their keys as text. yaml-cpp keeps every entry of a key written
// twice (later readers would see only one of them) and lets a key be a map or a list: both are
// refused here, naming the map (`what`), the line and the key.
std::vector<std::pair<std::string, YAML::Node>> entries(const std::string& file,
                                                        const YAML::Node& map,
                                                        const std::string& what) {
  std::vector<std::pair<std::string, YAML::Node>> out;
  std::set<std::string> seen;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar())
      throw InputError(at(file, kv.first),
                       fmt::format("a key of {} is a {}", what,
                                   kv.first.IsSequence() ? "list"
                                   : kv.first.IsMap()    ? "map"
                                                         : "null"),
                       "a field name");
    const std::string key = kv.first.Scalar();
    if (!seen.insert(key).second)
      throw InputError(at(file, kv.first), fmt::format("duplicate key '{}' in {}", key, what),
                       "each key once");
    out.emplace_back(key, kv.second);
  }
  return out;
}

void apply_map(Draft& d, const std::string& file, const YAML::Node& map) {
  if (!map.IsMap())
    throw InputError(at(file, map), "expected a map of fields", "{field: value, ...}");
  for (const auto& [key, value] : entries(file, map, "a case map"))
    apply_field(d, file, key, value);
}

CaseSpec finish(Draft d, const std::string& file) {
  if (d.gqa) {
    if (*d.gqa < 1 || d.spec.heads_q % *d.gqa != 0)
      throw InputError(
          d.where,
          fmt::format("field 'gqa': {} does not divide heads_q {}", *d.gqa, d.spec.heads_q),
          "a divisor of heads_q");
    d.spec.heads_kv = d.spec.heads_q / *d.gqa;
  }
  validate(d.spec, d.where.empty() ? file : d.where);
  check_case_size(d.spec, d.where.empty() ? file : d.where);
  return d.spec;
}

struct Axis {
  std::string name;
  std::vector<YAML::Node> values;
};

// Depth of nested includes being parsed on this thread; bounds include cycles.
thread_local int include_depth = 0;
constexpr int kMaxIncludeDepth = 8;

// Cases of a suite named in `include:`, resolved next to the including file.
std::vector<CaseSpec> included_cases(const std::string& file, const YAML::Node& item) {
  const std::string name = scalar<std::string>(file, "include", item, "a suite name or path");
  if (include_depth >= kMaxIncludeDepth)
    throw InputError(
        at(file, item),
        "includes nest deeper than " + std::to_string(kMaxIncludeDepth) + " (a cycle?)",
        "suites that do not include themselves");
  const std::string dir = std::filesystem::path(file).parent_path().string();
  ++include_depth;
  try {
    Suite s = load_suite(name, dir.empty() ? "." : dir);
    --include_depth;
    return std::move(s.cases);
  } catch (const InputError& e) {
    --include_depth;
    throw InputError(at(file, item) + ": include '" + name + "': " + e.what());
  }
}

// The axes expand to the product of their lengths; a suite past kMaxSuiteCases is refused before
// any case is built (a few short axes can otherwise ask for more cases than memory holds).
constexpr double kMaxSuiteCases = 100000;

void check_expansion_size(const std::string& file, const std::vector<Axis>& axes, size_t extra) {
  double n = 1;
  std::string product;
  for (const Axis& a : axes) {
    n *= double(a.values.size());
    product += (product.empty() ? "" : " x ") + fmt::format("{} ({})", a.values.size(), a.name);
  }
  if (n + double(extra) > kMaxSuiteCases)
    throw InputError(
        file, fmt::format("'axes' expand to {:.0f} cases ({}) plus {} listed", n, product, extra),
        fmt::format("at most {:.0f} cases per suite", kMaxSuiteCases));
}

}  // namespace

std::vector<std::string> suite_fields() {
  return kFields;
}

Suite parse_suite(const std::string& text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    const std::string where =
        e.mark.is_null() ? file : fmt::format("{}:{}:{}", file, e.mark.line + 1, e.mark.column + 1);
    throw InputError(where, "malformed YAML: " + e.msg,
                     "a YAML map with name, base, axes, cases, exclude");
  }
  if (!root.IsMap())
    throw InputError(file, "the suite is not a YAML map", "keys name, base, axes, cases, exclude");
  Suite s;
  s.file = file;
  Draft base;
  std::vector<Axis> axes;
  std::vector<YAML::Node> extra;
  std::vector<Filter> excludes;
  std::vector<CaseSpec> included;
  for (const auto& [key, v] : entries(file, root, "the suite")) {
    if (key == "name") {
      s.name = scalar<std::string>(file, key, v, "a name");
    } else if (key == "description") {
      s.description = scalar<std::string>(file, key, v, "text");
    } else if (key == "base") {
      apply_map(base, file, v);
    } else if (key == "axes") {
      if (!v.IsMap()) throw InputError(at(file, v), "'axes' is not a map", "axis: [values]");
      for (const auto& [name, values] : entries(file, v, "'axes'")) {
        Axis a{name, {}};
        if (!values.IsSequence() || values.size() == 0)
          throw InputError(at(file, values), "axis '" + a.name + "' is not a non-empty list",
                           "axis: [value, ...]");
        for (const YAML::Node& item : values)
          a.values.push_back(item);
        axes.push_back(std::move(a));
      }
    } else if (key == "cases") {
      if (!v.IsSequence()) throw InputError(at(file, v), "'cases' is not a list", "[{...}, ...]");
      for (const YAML::Node& item : v)
        extra.push_back(item);
    } else if (key == "include") {
      if (!v.IsSequence())
        throw InputError(at(file, v), "'include' is not a list", "a list of suite names or paths");
      for (const YAML::Node& item : v)
        for (CaseSpec& c : included_cases(file, item))
          included.push_back(std::move(c));
    } else if (key == "exclude") {
      if (!v.IsSequence())
        throw InputError(at(file, v), "'exclude' is not a list", "a list of filter expressions");
      for (const YAML::Node& item : v)
        excludes.push_back(Filter::parse(
            scalar<std::string>(file, key, item, "a filter expression"), at(file, item)));
    } else {
      throw InputError(at(file, v), "unknown key '" + key + "'",
                       "one of name, description, include, base, axes, cases, exclude");
    }
  }
  if (s.name.empty()) s.name = std::filesystem::path(file).stem().string();

  check_expansion_size(file, axes, extra.size());
  std::vector<Draft> drafts;
  if (!axes.empty() || (extra.empty() && included.empty())) drafts.push_back(base);
  for (const Axis& a : axes) {
    std::vector<Draft> next;
    for (const Draft& d : drafts) {
      for (const YAML::Node& value : a.values) {
        Draft n = d;
        if (value.IsMap()) {
          apply_map(n, file, value);
        } else {
          apply_field(n, file, a.name, value);
        }
        next.push_back(std::move(n));
      }
    }
    drafts = std::move(next);
  }
  for (const YAML::Node& item : extra) {
    Draft n = base;
    apply_map(n, file, item);
    drafts.push_back(std::move(n));
  }
  std::vector<CaseSpec> all = std::move(included);
  for (Draft& d : drafts)
    all.push_back(finish(std::move(d), file));
  std::set<std::string> seen;
  const size_t listed = all.size();
  for (CaseSpec& c : all) {
    if (std::any_of(excludes.begin(), excludes.end(),
                    [&](const Filter& f) { return f.matches(c); }))
      continue;
    if (seen.insert(case_id(c)).second) s.cases.push_back(std::move(c));
  }
  if (s.cases.empty())
    throw InputError(file,
                     fmt::format("'exclude' removes every one of the suite's {} cases", listed),
                     "exclusions that leave at least one case");
  return s;
}

Suite load_suite_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "cannot read the suite file", "a readable YAML file");
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_suite(buf.str(), path);
}

std::string default_suites_dir() {
  if (const char* env = std::getenv("SINKBENCH_SUITES")) return env;
  return std::string(SINKBENCH_SOURCE_DIR) + "/cases/suites";
}

std::vector<std::string> list_suites(const std::string& suites_dir) {
  const std::string dir = suites_dir.empty() ? default_suites_dir() : suites_dir;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

Suite load_suite(const std::string& name_or_path, const std::string& suites_dir) {
  if (name_or_path.find('/') != std::string::npos || name_or_path.ends_with(".yaml"))
    return load_suite_file(name_or_path);
  const std::string dir = suites_dir.empty() ? default_suites_dir() : suites_dir;
  const std::string path = dir + "/" + name_or_path + ".yaml";
  if (!std::filesystem::exists(path))
    throw InputError(
        "--suite", "unknown suite '" + name_or_path + "'",
        fmt::format("one of {} or a path to a .yaml file", fmt::join(list_suites(dir), ", ")));
  return load_suite_file(path);
}

std::vector<CaseSpec> expand(const Suite& suite, const Filter& filter) {
  std::vector<CaseSpec> out;
  for (const CaseSpec& c : suite.cases)
    if (filter.matches(c)) out.push_back(c);
  return out;
}

}  // namespace sinkbench
