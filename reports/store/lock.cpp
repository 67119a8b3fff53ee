// reports/store/lock.cpp — flock(2) on <out>.lock. The kernel drops the lock when its holder dies,
// so a killed run never leaves a stale lock; the file's text only names the holder for the message.
#include "reports/store/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "reports/store/provenance.h"

namespace sinkbench {
namespace {

std::string holder_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string text = s.str();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
    text.pop_back();
  return text.empty() ? "another process (it has not yet said which)" : text;
}

std::string host_name() {
  char buf[256] = {};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? buf : "unknown host";
}

}  // namespace

std::string lock_path(const std::string& out) {
  return out + ".lock";
}

OutputLock::OutputLock(const std::string& out, const std::string& command_line)
    : path_(lock_path(out)) {
  // A holder that finishes unlinks the file it locked; retry until the locked file is the one
  // the path names.
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw InputError(path_, std::string("cannot create the output lock: ") + std::strerror(errno),
                       "a writable directory for -o");
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      if (err != EWOULDBLOCK)
        throw InputError(path_, std::string("cannot lock: ") + std::strerror(err),
                         "a file system with flock");
      throw InputError(out, "is being written by " + holder_text(path_),
                       "one sinkbench per output: wait for it to finish, or choose another -o");
    }
    struct stat held {
    }, named{};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 &&
        held.st_ino == named.st_ino && held.st_dev == named.st_dev)
      break;
    ::close(fd_);
    fd_ = -1;
  }
  if (fd_ < 0) throw InputError(path_, "cannot be locked (it keeps changing)", "a quiet -o");
  const std::string text = "pid " + std::to_string(::getpid()) + " on " + host_name() + " since " +
                           utc_now() + ": " + command_line + "\n";
  // Without its text the lock still holds; a refused run's message then names no holder.
  const bool named = ::ftruncate(fd_, 0) == 0 && ::write(fd_, text.data(), text.size()) >= 0;
  (void)named;
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  ::unlink(path_.c_str());
  ::close(fd_);
}

}  // namespace sinkbench
