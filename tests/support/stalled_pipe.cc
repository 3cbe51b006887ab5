#include "tests/support/stalled_pipe.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>
#include <vector>

namespace qd::test {

StalledPipe::StalledPipe(std::string path) : path_(std::move(path)) {
  if (mkfifo(path_.c_str(), 0600) != 0) return;
  fd_ = open(path_.c_str(), O_RDONLY | O_NONBLOCK);
}

StalledPipe::~StalledPipe() { Drain(); }

bool StalledPipe::WaitForWriter(int bytes) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (fd_ >= 0 && std::chrono::steady_clock::now() < deadline) {
    int buffered = 0;
    if (ioctl(fd_, FIONREAD, &buffered) != 0) return false;
    if (buffered >= bytes) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

void StalledPipe::Drain() {
  if (fd_ < 0) return;
  fcntl(fd_, F_SETFL, 0);  // blocking: read until the writer closes
  std::vector<char> sink(1 << 16);
  while (read(fd_, sink.data(), sink.size()) > 0) {
  }
  close(fd_);
  fd_ = -1;
}

}  // namespace qd::test
