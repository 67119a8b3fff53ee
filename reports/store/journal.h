// reports/store/journal.h — the append-only sidecar of a run in progress (<out>.journal), and the
// commit point of each case: one JSON line per finished case, written with a single write(2)
// after the case is in the HDF5 file. A process killed at any instant leaves complete lines plus
// at most one unterminated tail, which is dropped on resume. The HDF5 file in progress is never
// trusted on its own (HDF5 1.10 without SWMR may be unreadable after a kill); --resume rebuilds
// it from the journal and copies arrays of committed cases from it where it is still readable.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "reports/store/store.h"

namespace sinkbench {

struct JournalContents {
  nlohmann::json header;  // schema_version, policy_version, selection, start_time, command
  std::vector<CaseRecord> records;  // committed cases, without arrays
  bool dropped_tail = false;        // an unterminated last line (the case in flight) was dropped
};

class Journal {
 public:
  // Writes header and replayed records to a temporary name, then renames it onto `path`, so an
  // existing journal is replaced atomically; then keeps `path` open for appends.
  static Journal create(const std::string& path, const nlohmann::json& header,
                        const std::vector<CaseRecord>& replay);
  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&&) = delete;
  ~Journal();
  void commit(const CaseRecord& rec);
  double seconds() const { return seconds_; }

 private:
  Journal() = default;
  int fd_ = -1;
  std::string path_;
  double seconds_ = 0;
};

// Reads a journal; throws InputError naming the file and line when a complete line is corrupt,
// the file is not a journal, or its schema version differs. Never modifies the file.
JournalContents read_journal(const std::string& path);

}  // namespace sinkbench
