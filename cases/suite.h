// cases/suite.h — YAML suites: a base case, axes expanded as a product (in file order), explicit
// extra cases, and exclusions written as filter expressions. Errors name file:line and field.
//
//   name: smoke
//   include: [edge]            # cases of other suites (resolved next to this file) come first
//   description: ...
//   base: {heads_q: 8, head_dim: 64, sink: band:4:8}
//   axes:
//     dtype: [fp32, fp16, bf16]
//     mask: [none, causal, {mask: sliding_window, window: 7}]
//     shape: [{sq: 1, sk: 1}, {sq: 113, sk: 203}]
//   cases: [{dtype: bf16, sq: 4096, sk: 4096}]
//   exclude: ["dtype=fp32,sk>=1024"]
#pragma once

#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "cases/filter.h"

namespace sinkbench {

struct Suite {
  std::string name;
  std::string description;
  std::string file;
  std::vector<CaseSpec> cases;  // validated, distinct ids, in expansion order
};

// Parses a suite file; throws InputError("file:line:col", ...) on any malformed content.
Suite load_suite_file(const std::string& path);
// Parses suite text (file name used in messages only).
Suite parse_suite(const std::string& text, const std::string& file);
// Resolves a built-in name ("smoke") in suites_dir, or a path to a .yaml file.
Suite load_suite(const std::string& name_or_path, const std::string& suites_dir = "");
// Built-in suite names found in suites_dir.
std::vector<std::string> list_suites(const std::string& suites_dir = "");
// $SINKBENCH_SUITES, or the source tree's cases/suites.
std::string default_suites_dir();
// Keys accepted in base, axes and cases.
std::vector<std::string> suite_fields();

// The cases of `suite` that pass `filter`.
std::vector<CaseSpec> expand(const Suite& suite, const Filter& filter);

}  // namespace sinkbench
