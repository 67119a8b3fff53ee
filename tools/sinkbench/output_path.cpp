// tools/sinkbench/output_path.cpp — creating and probing the directory of an output file.
#include "tools/sinkbench/output_path.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/error.h"

namespace sinkbench {
namespace fs = std::filesystem;

void prepare_output_path(const std::string& flag, const std::string& path) {
  const std::string where = flag + " " + path;
  const fs::path dir = fs::absolute(path).parent_path();
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec)
      throw InputError(where, "cannot create directory " + dir.string() + ": " + ec.message(),
                       "a path in a writable directory");
  }
  if (!fs::is_directory(dir, ec))
    throw InputError(where, dir.string() + " is not a directory", "a path in a directory");
  // access() reports a read-only file system (EROFS) even to root.
  if (::access(dir.c_str(), W_OK) != 0)
    throw InputError(where,
                     "directory " + dir.string() + " is not writable: " + std::strerror(errno),
                     "a path in a writable directory");
  if (fs::is_directory(path, ec)) throw InputError(where, "is a directory", "a file path");
}

}  // namespace sinkbench
