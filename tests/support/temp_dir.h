// tests/support/temp_dir.h — tests leave nothing in the temporary folder: a folder registered
// here is removed when the test process exits (SINKBENCH_KEEP_TEST_DIRS=1 keeps them to look at).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace sinkbench::testing {

inline void remove_at_exit(const std::filesystem::path& dir) {
  static struct Cleanup {
    std::vector<std::filesystem::path> dirs;
    ~Cleanup() {
      if (const char* keep = std::getenv("SINKBENCH_KEEP_TEST_DIRS"); keep && *keep == '1') return;
      std::error_code ec;
      for (const auto& d : dirs)
        std::filesystem::remove_all(d, ec);
    }
  } cleanup;
  cleanup.dirs.push_back(dir);
}

}  // namespace sinkbench::testing
