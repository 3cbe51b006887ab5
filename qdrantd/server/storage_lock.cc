#include "qdrantd/server/storage_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace qd::server {

Result<std::unique_ptr<StorageLock>> StorageLock::Acquire(const std::string& storage_path) {
  std::error_code ec;
  std::filesystem::create_directories(storage_path, ec);
  if (ec) {
    return Status::Internal("cannot create storage directory " + storage_path + ": " + ec.message());
  }
  std::string lock_path = storage_path + "/.qdrantd.lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Status::Internal("cannot open " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    std::string holder = n > 0 ? " (pid " + std::string(buf, static_cast<size_t>(n)) + ")" : "";
    if (err == EWOULDBLOCK) {
      return Status::FailedPrecondition("storage directory " + storage_path +
                                        " is already in use by another qdrantd" + holder);
    }
    return Status::Internal("cannot lock " + lock_path + ": " + std::strerror(err));
  }
  // The pid only helps the error message of a second daemon; the lock is what matters, so a
  // failed write is not an error.
  std::string pid = std::to_string(::getpid());
  if (::ftruncate(fd, 0) == 0) (void)!::pwrite(fd, pid.data(), pid.size(), 0);
  return std::unique_ptr<StorageLock>(new StorageLock(fd));
}

StorageLock::~StorageLock() { ::close(fd_); }

}  // namespace qd::server
