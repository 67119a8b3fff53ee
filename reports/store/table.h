// reports/store/table.h — the one results schema (docs/results.md): every column of the `cases` and
// `results` tables declared once, with its kind, the getter that fills it, its description, its
// plausible range and the schema version that added it. The HDF5 store, the resume journal,
// merge, diff and the report all read these declarations; a column a file lacks reads as Absent.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "cases/case_spec.h"
#include "oracle/grad_verdict.h"
#include "oracle/verdict.h"

namespace sinkbench {

// The newest schema version this build writes and reads. Bump it when a column is added (the
// new column's `since`) or the layout changes, and name the change in docs/results.md.
inline constexpr int kSchemaVersion = 2;

enum class Kind { i64, f64, str };
// A value a file does not have (a column added after the file's schema version): shown as "—",
// never as 0.
using Absent = std::monostate;
using Value = std::variant<Absent, int64_t, double, std::string>;
using Row = std::vector<Value>;

// What a value must be to be believed when read back (a flipped bit is an error, not a number).
enum class Range {
  any,
  count,    // an integer >= 0
  seconds,  // 0 (not timed) or a normal double in [1e-12, 1e7]
  status,   // pass, fail, skip or error
};

struct Column {
  std::string name;
  Kind kind;
  bool timing = false;  // differs between identical runs: ignored when runs are compared
  std::string description{};
  int since = 1;  // the schema version that added the column
  Range range = Range::any;
};

// One column of a table whose rows are built from `Facts`: the column and the getter that fills
// it. Adding a metric is one such entry (plus its producer).
template <typename Facts>
struct ColumnDef {
  std::string name;
  Kind kind;
  std::function<Value(const Facts&)> get;
  std::string description;
  int since = 1;
  bool timing = false;
  Range range = Range::any;
  Column column() const { return {name, kind, timing, description, since, range}; }
};

// What one implementation did on one case.
struct Outcome {
  std::string impl;
  std::string family;
  std::string device;
  Verdict verdict;
  std::string diagnosis;                  // failures: oracle/defects.h's Diagnosis::column()
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

// What a `cases` row is built from.
struct CaseFacts {
  const CaseSpec& spec;
  int64_t evaluated_rows = 0;
  int64_t evaluated_heads = 0;
  double oracle_seconds = 0;
};
// What a `results` row is built from.
struct ResultFacts {
  const CaseSpec& spec;
  const Outcome& outcome;
};

const std::vector<ColumnDef<CaseFacts>>& case_schema();
const std::vector<ColumnDef<ResultFacts>>& result_schema();
const std::vector<Column>& case_columns();
const std::vector<Column>& result_columns();

// Test seam: adds a column to the results schema of this process, as a later schema version
// would, so tests can show that existing files keep loading. Never called by sinkbench itself.
void add_result_column_for_test(ColumnDef<ResultFacts> def);

struct Table {
  std::vector<Column> columns;
  std::vector<Row> rows;
  // Index of the named column; throws InternalError if the schema has no such column.
  size_t index(const std::string& name) const;
  // The value, Absent when the file lacks the column.
  const Value& value(size_t row, const std::string& column) const;
  // Typed access to columns every file has (schema v1); throws InputError on an Absent value.
  const std::string& text(size_t row, const std::string& column) const;
  int64_t integer(size_t row, const std::string& column) const;
  double number(size_t row, const std::string& column) const;
  // nullopt when the file lacks the column.
  std::optional<double> maybe_number(size_t row, const std::string& column) const;
  // True when no row has a value in the column (the file predates it).
  bool absent(const std::string& column) const;
};

Row case_row(const CaseSpec& c, int64_t evaluated_rows, int64_t evaluated_heads,
             double oracle_seconds);
Row result_row(const CaseSpec& c, const Outcome& r);

// A row's values with timing columns blanked, for comparing runs.
Row without_timing(const std::vector<Column>& columns, const Row& row);
// Canonical order of a results table: by case id, then implementation name.
void sort_results(Table& results);
void sort_cases(Table& cases);

// "—" for Absent.
std::string to_text(const Value& v);
// Empty when the value is of the column's kind and in its range (Absent always is); else what
// was expected, for an error message.
std::string implausible(const Column& col, const Value& v);
// Throws InputError naming `where`, the row and the column at the first implausible value.
void check_plausible(const Table& t, const std::string& where, const std::string& table_name);

}  // namespace sinkbench
