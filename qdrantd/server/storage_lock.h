// StorageLock: an exclusive flock(2) on <storage_path>/.qdrantd.lock, held for the daemon's
// lifetime, so a second qdrantd on the same storage exits at once with a clear error instead of
// corrupting the first one's files. The kernel releases it when the process dies (even kill -9).
// Thread: any; owned by the Daemon.
#pragma once

#include <memory>
#include <string>

#include "libshared/status.h"

namespace qd::server {

class StorageLock {
 public:
  // Creates storage_path if needed and locks it. Errors: kFailedPrecondition when another
  // process holds the lock (message names the directory and that process's pid); kInternal when
  // the directory or lock file cannot be created.
  static Result<std::unique_ptr<StorageLock>> Acquire(const std::string& storage_path);
  ~StorageLock();
  StorageLock(const StorageLock&) = delete;
  StorageLock& operator=(const StorageLock&) = delete;

 private:
  explicit StorageLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace qd::server
