// reports/store/arrays.h — reading back the per-case arrays of a results file
// (/arrays/<case_id>/...) and rewriting root attributes of a finished file, for the golden diff and
// `golden update`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "reports/store/store.h"

namespace sinkbench {

// One dataset read back: its raw bytes as stored (for bit-identity) and its values as doubles
// (fp16/bf16 bit patterns decoded, for drift).
struct StoredArray {
  std::string path;   // below /arrays/<case_id>/, e.g. "oracle/o"
  std::string dtype;  // the `dtype` attribute
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
  std::vector<double> values;
};

// A results file opened read-only for its arrays. Throws InputError naming the file when it
// cannot be opened.
class ArrayFile {
 public:
  explicit ArrayFile(const std::string& path);
  ArrayFile(const ArrayFile&) = delete;
  ArrayFile& operator=(const ArrayFile&) = delete;
  ~ArrayFile();

  // True if the file has an /arrays group at all (a run made with --keep-arrays).
  bool any() const;
  // Dataset paths below /arrays/<case_id>/, sorted; empty when the case has none.
  std::vector<std::string> list(const std::string& case_id) const;
  // Throws InputError naming the file and dataset when it is absent or unreadable.
  StoredArray read(const std::string& case_id, const std::string& path) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int64_t file_ = -1;
};

// Writes (replacing) root attributes of an existing results file.
void set_root_attributes(const std::string& path, const Attributes& attrs);

}  // namespace sinkbench
