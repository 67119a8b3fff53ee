// reports/store.h — the HDF5 results file (schema v1, docs/results.md): provenance attributes on
// the root, extendible `cases` and `results` compound tables, optional per-case arrays under
// /arrays/<case_id>/. Rows are appended case by case and the file is flushed after each case.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "reports/table.h"

namespace sinkbench {

// One dataset of a case's arrays, by its path below /arrays/<case_id>/ (e.g. "inputs/q").
struct Array {
  enum class Elem { f32, u16, f64, i64 };
  std::string path;
  Elem elem = Elem::f64;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  std::string dtype;  // the `dtype` attribute: fp32/fp16/bf16 for stored tensors, else elem
};
Array tensor_array(std::string path, const Tensor& t);
Array double_array(std::string path, std::vector<int64_t> shape, const std::vector<double>& v);
Array float_array(std::string path, std::vector<int64_t> shape, const std::vector<float>& v);
Array int_array(std::string path, std::vector<int64_t> shape, const std::vector<int64_t>& v);

// Everything one finished case adds to the file.
struct CaseRecord {
  Row case_row;
  std::vector<Row> results;  // sorted by implementation name
  std::vector<Array> arrays;
  const std::string& id() const { return std::get<std::string>(case_row.front()); }
};

using Attributes = std::vector<std::pair<std::string, Value>>;

class Store {
 public:
  // Creates (truncates) `path` and writes the root attributes.
  static Store create(const std::string& path, const Attributes& attrs);
  Store(Store&& other) noexcept;
  Store& operator=(Store&&) = delete;
  ~Store();

  // Appends the case's rows and arrays, then flushes the file to disk.
  void append(const CaseRecord& rec);
  // Copies /arrays/<case_id> from another results file; false if it has none.
  bool copy_arrays(const std::string& src_path, const std::string& case_id);
  void set_attribute(const std::string& name, const Value& v);
  void close();
  // Seconds spent inside append/copy/flush so far (the store's share of a run).
  double seconds() const { return seconds_; }

 private:
  Store() = default;
  int64_t file_ = -1, cases_ = -1, results_ = -1;
  int64_t case_count_ = 0, result_count_ = 0;
  std::string path_;
  double seconds_ = 0;
};

struct StoredRun {
  std::string path;
  Attributes attrs;
  int64_t schema_version = 0;
  int64_t policy_version = 0;
  bool complete = false;
  Table cases;
  Table results;
  std::optional<Value> attribute(const std::string& name) const;
};

// Opens and validates a results file: readable HDF5, a sinkbench results file, schema version
// kSchemaVersion. Throws InputError naming the file (and both versions on a mismatch); never
// modifies the file.
StoredRun read_store(const std::string& path);
// The root attributes of an HDF5 file of any schema version (golden update reads the history of
// the fixture it replaces, which an older sinkbench wrote). Throws InputError naming the file.
Attributes read_root_attributes(const std::string& path);
// True if the case has arrays in the file (the file must be readable).
bool has_arrays(const std::string& path, const std::string& case_id);

// A file holding one table under `name` plus root attributes (e.g. the `bench` table of
// `sinkbench bench`), written and read with the same compound layout as the results tables.
void write_table_file(const std::string& path, const Attributes& attrs, const std::string& name,
                      const Table& table);
struct StoredTable {
  std::string path;
  Attributes attrs;
  Table table;
  std::optional<Value> attribute(const std::string& name) const;
};
// Throws InputError naming the file when it is not readable HDF5 or lacks the table.
StoredTable read_table_file(const std::string& path, const std::string& name,
                            const std::vector<Column>& columns);

}  // namespace sinkbench
