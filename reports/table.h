// reports/table.h — the rows of a results file (schema v1): one `cases` row per case and one
// `results` row per case x implementation. A row is a list of typed values described by a column
// list, so the HDF5 store, the resume journal, merge and the tests share one definition.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cases/case_spec.h"
#include "oracle/grad_verdict.h"
#include "oracle/verdict.h"

namespace sinkbench {

// Bumped whenever a column or the layout of a results file changes (docs/results.md).
inline constexpr int kSchemaVersion = 2;  // 2: gradient columns

enum class Kind { i64, f64, str };
using Value = std::variant<int64_t, double, std::string>;
using Row = std::vector<Value>;

struct Column {
  std::string name;
  Kind kind;
  bool timing = false;  // differs between identical runs: ignored when runs are compared
};

struct Table {
  std::vector<Column> columns;
  std::vector<Row> rows;
  // Index of the named column; throws InternalError if absent.
  size_t index(const std::string& name) const;
  const std::string& text(size_t row, const std::string& column) const;
  int64_t integer(size_t row, const std::string& column) const;
  double number(size_t row, const std::string& column) const;
};

const std::vector<Column>& case_columns();
const std::vector<Column>& result_columns();

Row case_row(const CaseSpec& c, int64_t evaluated_rows, int64_t evaluated_heads,
             double oracle_seconds);

// What one implementation did on one case.
struct Outcome {
  std::string impl;
  std::string family;
  std::string device;
  Verdict verdict;
  Metrics metrics;                        // zero for skip and error
  std::optional<double> min_floor_ratio;  // the impl's predicted floor, if any
  double seconds = 0;                     // the impl's own timing (0 if it reports none)
  double wall_seconds = 0;                // host time around forward()
  // Backward pass of a `grad: do` case: its verdict (nullopt for forward-only cases; skip with
  // the reason where the implementation has none), metrics (meaningful for pass and fail) and
  // the implementation's own timing of it.
  std::optional<Verdict> grad_verdict;
  BackwardMetrics grad_metrics;
  double bwd_seconds = 0;
};
Row result_row(const CaseSpec& c, const Outcome& r);

// A row's values with timing columns blanked, for comparing runs.
Row without_timing(const std::vector<Column>& columns, const Row& row);
// Canonical order of a results table: by case id, then implementation name.
void sort_results(Table& results);
void sort_cases(Table& cases);

std::string to_text(const Value& v);

}  // namespace sinkbench
