// reports/store/store.h — the HDF5 results file (docs/results.md): provenance attributes on the
// root, `cases` and `results` compound tables of the columns of reports/store/table.h, optional
// per-case arrays under /arrays/<case_id>/. Every table and array is checksummed (Fletcher32) and
// strings are fixed-length, so the file holds no unchecked byte; files of schema v1 are still read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"
#include "reports/store/table.h"

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

// Where the arrays of one case come from when a file is written: from memory, or copied from
// /arrays/<case_id> of another file.
struct ArraySource {
  std::string case_id;
  std::vector<Array> arrays;
  std::string copy_from;
};

// A results file being built: rows and arrays are collected in memory, and close() writes the
// whole file at once under a temporary name (<path>.writing), reads it back to verify it, then
// renames it onto `path`. An existing `path` is therefore replaced only by a complete, valid file;
// a Store dropped without close() (an error, a refused input) leaves `path` as it was.
class Store {
 public:
  static Store create(const std::string& path, const Attributes& attrs);
  Store(Store&& other) noexcept = default;
  Store& operator=(Store&&) = delete;
  ~Store();

  // Adds the case's rows and arrays.
  void append(const CaseRecord& rec);
  // Copies /arrays/<case_id> from another results (or case arrays) file when the file is written;
  // false if that file has none.
  bool copy_arrays(const std::string& src_path, const std::string& case_id);
  void set_attribute(const std::string& name, const Value& v);
  // Writes, verifies and renames the file; throws InputError naming the file on any failure
  // (the temporary file is removed, `path` untouched).
  void close();
  // Seconds spent writing so far (the store's share of a run).
  double seconds() const { return seconds_; }

 private:
  Store() = default;
  std::string path_;
  Attributes attrs_;
  std::vector<Row> cases_, results_;
  std::vector<ArraySource> arrays_;
  bool closed_ = false;
  double seconds_ = 0;
};

// One case's arrays as a file of their own (/arrays/<case_id>/...), written to a temporary name
// and renamed when complete: the per-case commit of `run --keep-arrays`.
void write_case_arrays(const std::string& path, const std::string& case_id,
                       const std::vector<Array>& arrays);
// True when `path` is an intact file holding /arrays/<case_id> (checksums verified, in a child
// process so that a corrupt file cannot crash the caller).
bool case_arrays_intact(const std::string& path, const std::string& case_id);

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

// Opens and validates a results file: readable HDF5 whose every object and checksum reads back
// (checked first in a child process, so a file that crashes libhdf5 is an InputError, not a
// crash), a sinkbench results file of schema version <= kSchemaVersion, plausible values. A
// column the file predates reads as Absent. Throws InputError naming the file and what is wrong;
// never modifies the file.
StoredRun read_store(const std::string& path);
// Reads every dataset and attribute of an HDF5 file in a child process (time limit 120 s):
// throws InputError naming the file when HDF5 reports an error, a checksum fails, or the reader
// crashes or hangs.
void verify_hdf5_file(const std::string& path);
// H5Dread of a whole dataset (`elements` values) into `buf` as `memory_type`, with HDF5's
// type-conversion buffers sized to the read: by default a converting read allocates and zeroes
// 1 MiB for each of them, whatever the dataset's size. Returns H5Dread's status (< 0: error).
int read_whole_dataset(int64_t dataset, int64_t memory_type, size_t elements, void* buf);
// True if the case has arrays in the file (the file must be readable).
bool has_arrays(const std::string& path, const std::string& case_id);

// A file holding one table under `name` plus root attributes (e.g. the `bench` table of
// `sinkbench bench`), written (atomically, like Store) and read with the same layout as the
// results tables.
void write_table_file(const std::string& path, const Attributes& attrs, const std::string& name,
                      const Table& table);
struct StoredTable {
  std::string path;
  Attributes attrs;
  Table table;
  std::optional<Value> attribute(const std::string& name) const;
};
// Throws InputError naming the file when it is not intact HDF5 or lacks the table.
StoredTable read_table_file(const std::string& path, const std::string& name,
                            const std::vector<Column>& columns);

}  // namespace sinkbench
