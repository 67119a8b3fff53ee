// reports/store/lock.h — the lock a command holds on its output file while it writes it
// (<out>.lock, an flock), so that a second run to the same -o, or a --resume while the first still
// runs, is refused up front with a message naming the holder instead of both computing.
#pragma once

#include <string>

namespace sinkbench {

class OutputLock {
 public:
  // Takes the lock of `out` for this process, recording who holds it (pid, host, start time,
  // command). Throws InputError naming the holder when another process holds it. The lock is
  // released when the process ends, however it ends.
  OutputLock(const std::string& out, const std::string& command_line);
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  ~OutputLock();

 private:
  std::string path_;
  int fd_ = -1;
};

std::string lock_path(const std::string& out);

}  // namespace sinkbench
