// A named pipe that a file write can be made to stop in: a test creates it where the code
// under test will write a file, and the write blocks once the pipe holds 64 KiB that nobody
// reads. While it is stuck there, with whatever locks it holds, the test checks what else may
// still run; Drain() then lets the write finish. For deterministic tests of "X does not wait
// for a slow save", without timing.
#pragma once

#include <string>

namespace qd::test {

class StalledPipe {
 public:
  // Makes a FIFO at `path` and opens its reading end, so that a writer's open() returns.
  explicit StalledPipe(std::string path);
  ~StalledPipe();  // drains and closes
  StalledPipe(const StalledPipe&) = delete;
  StalledPipe& operator=(const StalledPipe&) = delete;

  bool ok() const { return fd_ >= 0; }
  // True once a writer has written at least `bytes` (polls, up to 10 s).
  bool WaitForWriter(int bytes = 4096) const;
  // Reads until the writer closes its end: its write can then finish.
  void Drain();

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace qd::test
