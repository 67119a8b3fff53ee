// reports/store/external.h — the exchange file of external implementations (docs/external.md):
// `sinkbench export` writes cases with their inputs under /cases/<case_id>/ (with d_o and dlse for
// `grad: do` cases), an external tool adds /outputs/<impl>/<case_id>/{o, lse} (and dq, dk, dv,
// dsinks), and `sinkbench check` reads both back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cases/case_spec.h"
#include "reports/store/store.h"

namespace sinkbench {

inline constexpr const char* kExternalFormat = "sinkbench-external";
inline constexpr int64_t kExternalVersion = 1;

// Expected shapes of a case's outputs (the `o_shape` and `lse_shape` attributes): o [B, Sq, Hq, D]
// for fixed lengths and packed [total_q, Hq, D] for varlen; lse [B, Hq, Sq] for fixed lengths and
// [Hq, total_q] for varlen (Layout::lse_offset order). The packed o shape, the same elements in
// the same order, is accepted for every case.
std::vector<int64_t> external_o_shape(const CaseSpec& c);
std::vector<int64_t> external_packed_o_shape(const CaseSpec& c);
std::vector<int64_t> external_lse_shape(const CaseSpec& c);
std::string shape_text(const std::vector<int64_t>& shape);  // "[2, 113, 8, 64]"

// Creates (truncates) `path`: root attributes, one /cases/<case_id> group per case with its spec
// and generated inputs, and an empty /outputs group. Throws InputError naming the file.
void write_external(const std::string& path, const Attributes& attrs,
                    const std::vector<CaseSpec>& cases);

// One dataset read back. Floats of any width arrive as doubles in `values`; 16-bit unsigned
// integers keep their bits (bf16/fp16 with a dtype attribute) and are decoded into `values` when
// the attribute names a half type; other integers arrive in `ints`.
struct ExternalArray {
  std::string path;         // full path in the file
  std::string kind;         // "float", "uint16", "int" or "other"
  std::string stored_type;  // for messages, e.g. "float32", "uint16", "int64"
  std::string dtype;        // the `dtype` attribute, "" when absent
  std::vector<int64_t> shape;
  std::vector<double> values;
  std::vector<uint16_t> bits;
  std::vector<int64_t> ints;
};

// An exchange file opened read-only. The constructor throws InputError naming the file when it
// is missing, not HDF5, or not a sinkbench exchange file of kExternalVersion.
class ExternalFile {
 public:
  explicit ExternalFile(const std::string& path);
  ExternalFile(const ExternalFile&) = delete;
  ExternalFile& operator=(const ExternalFile&) = delete;
  ~ExternalFile();

  const std::string& path() const { return path_; }
  // Names of the groups below a group path ("/cases", "/outputs", "/outputs/x"), sorted.
  std::vector<std::string> groups(const std::string& parent) const;
  // True if every component of the absolute path exists.
  bool exists(const std::string& path) const;
  // nullopt when the dataset is absent.
  std::optional<ExternalArray> read(const std::string& path) const;
  // Attributes of an object (group or dataset); nullopt when absent or of another type.
  std::optional<std::string> text_attribute(const std::string& object, const char* name) const;
  std::optional<double> number_attribute(const std::string& object, const char* name) const;

 private:
  std::string path_;
  int64_t file_ = -1;
};

}  // namespace sinkbench
