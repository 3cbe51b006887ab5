#include "tests/bench/measure.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace qd::bench {

double Percentile(std::vector<double>* samples, double p) {
  if (samples->empty()) return 0;
  std::sort(samples->begin(), samples->end());
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples->size())));
  rank = std::clamp<size_t>(rank, 1, samples->size());
  return (*samples)[rank - 1];
}

double RecallAtK(std::span<const std::vector<uint64_t>> found, std::span<const int32_t> truth,
                 size_t gt_k, size_t k) {
  if (found.empty() || k == 0) return 0;
  const size_t kk = std::min(k, gt_k);
  double sum = 0;
  for (size_t q = 0; q < found.size(); ++q) {
    std::unordered_set<uint64_t> want;
    for (size_t r = 0; r < kk; ++r) want.insert(static_cast<uint64_t>(truth[q * gt_k + r]));
    size_t hits = 0;
    for (size_t r = 0; r < found[q].size() && r < kk; ++r) hits += want.count(found[q][r]);
    sum += static_cast<double>(hits) / static_cast<double>(kk);
  }
  return sum / static_cast<double>(found.size());
}

Result<ProcessMemory> ReadProcessMemory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  if (!in) return Status::NotFound("no process " + std::to_string(pid));
  ProcessMemory m;
  bool rss = false, hwm = false;
  std::string line;
  while (std::getline(in, line)) {
    uint64_t kib = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %lu kB", &kib) == 1) m.rss_bytes = kib * 1024, rss = true;
    if (std::sscanf(line.c_str(), "VmHWM: %lu kB", &kib) == 1) m.hwm_bytes = kib * 1024, hwm = true;
    if (std::sscanf(line.c_str(), "RssAnon: %lu kB", &kib) == 1) m.anon_bytes = kib * 1024;
    if (std::sscanf(line.c_str(), "RssFile: %lu kB", &kib) == 1) m.file_bytes = kib * 1024;
  }
  if (!rss || !hwm) return Status::NotFound("no VmRSS/VmHWM for process " + std::to_string(pid));
  return m;
}

Result<double> ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!in || !std::getline(in, stat)) return Status::NotFound("no process " + std::to_string(pid));
  // Fields after the command name (which may hold spaces, hence the last ')'): state is field
  // 3, utime 14 and stime 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos)
    return Status::NotFound("unreadable /proc/" + std::to_string(pid));
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Result<std::vector<int>> ParseIntList(const std::string& text) {
  std::vector<int> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    long v = std::strtol(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0 || v > 1'000'000) {
      return Status::InvalidArgument("'" + item + "' in '" + text + "' is not a positive integer");
    }
    out.push_back(static_cast<int>(v));
  }
  if (out.empty()) return Status::InvalidArgument("empty list");
  return out;
}

std::string HumanBytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

ProgressBar::ProgressBar(std::string label, uint64_t total)
    : label_(std::move(label)), total_(std::max<uint64_t>(total, 1)), tty_(isatty(2) == 1) {}

void ProgressBar::Add(uint64_t n) {
  const uint64_t done = done_.fetch_add(n, std::memory_order_relaxed) + n;
  if (tty_) {
    const int64_t now = Clock::now().time_since_epoch().count();
    int64_t last = last_draw_ns_.load(std::memory_order_relaxed);
    if (now - last < 100'000'000 ||
        !last_draw_ns_.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
      return;
    }
    Draw(done, false);
  } else {
    const int decile = static_cast<int>(done * 10 / total_);
    int last = last_decile_.load(std::memory_order_relaxed);
    if (decile > last && decile < 10 &&
        last_decile_.compare_exchange_strong(last, decile, std::memory_order_relaxed)) {
      Draw(done, false);
    }
  }
}

void ProgressBar::Finish() { Draw(done_.load(), true); }

void ProgressBar::Draw(uint64_t done, bool final) {
  constexpr int kWidth = 30;
  const double frac = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
  const int filled = static_cast<int>(frac * kWidth);
  const double secs = SecondsSince(start_);
  char line[256];
  std::snprintf(line, sizeof line, "%s%s [%-*s] %llu/%llu %3.0f%% %.0f/s %.1fs%s", tty_ ? "\r" : "",
                label_.c_str(), kWidth, std::string(filled, '#').c_str(),
                static_cast<unsigned long long>(done), static_cast<unsigned long long>(total_),
                frac * 100, secs > 0 ? static_cast<double>(done) / secs : 0.0, secs,
                (final || !tty_) ? "\n" : "");
  std::fputs(line, stderr);
  std::fflush(stderr);
}

}  // namespace qd::bench
