// What the benchmark tools measure with: a monotonic clock, latency percentiles, recall against
// ground truth, a process's resident memory from /proc, a progress bar on stderr, and the ef
// list flag. Thread: ProgressBar::Add may be called from any thread; the rest are plain values.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "libshared/status.h"

namespace qd::bench {

using Clock = std::chrono::steady_clock;

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The p-th percentile (0..100) of `samples` by nearest rank; sorts them. 0 when empty.
double Percentile(std::vector<double>* samples, double p);

// Mean over queries of |found[q][:k] ∩ truth[q][:k]| / k, where truth rows are `gt_k` long.
// A query may have returned fewer than k ids (counted as misses).
double RecallAtK(std::span<const std::vector<uint64_t>> found, std::span<const int32_t> truth,
                 size_t gt_k, size_t k);

// VmRSS and VmHWM ("high water mark", peak resident) of a process, in bytes.
struct ProcessMemory {
  uint64_t rss_bytes = 0;
  uint64_t hwm_bytes = 0;
  // The parts of rss_bytes: private anonymous memory (heap, mappings: the data), and pages of
  // files (mostly shared libraries' code, which any process mapping them shares).
  uint64_t anon_bytes = 0;
  uint64_t file_bytes = 0;
};
// Errors: kNotFound if the process does not exist (or /proc/<pid>/status lacks the fields).
Result<ProcessMemory> ReadProcessMemory(pid_t pid);

// CPU time (user + system, all threads) a process has used so far, in seconds, from
// /proc/<pid>/stat; 10 ms resolution. On a machine shared with other work, queries per
// CPU-second compare two programs better than queries per second.
// Errors: kNotFound if the process does not exist.
Result<double> ProcessCpuSeconds(pid_t pid);

// "1,2,4" -> {1,2,4}. Errors: kInvalidArgument on anything not a positive integer.
Result<std::vector<int>> ParseIntList(const std::string& text);

std::string HumanBytes(uint64_t bytes);  // "1.23 GiB"

// A one-line bar on stderr: redrawn in place at most ten times a second on a terminal, a plain
// line every 10% otherwise (CI logs). Add() is cheap and thread-safe; Finish() draws 100%.
class ProgressBar {
 public:
  ProgressBar(std::string label, uint64_t total);
  void Add(uint64_t n);
  void Finish();

 private:
  void Draw(uint64_t done, bool final);

  const std::string label_;
  const uint64_t total_;
  const bool tty_;
  const Clock::time_point start_ = Clock::now();
  std::atomic<uint64_t> done_{0};
  std::atomic<int64_t> last_draw_ns_{0};
  std::atomic<int> last_decile_{-1};
};

}  // namespace qd::bench
