#include "qdrantd/collection/replica_reads.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <tuple>
#include <utility>

namespace qd::collection {

std::string ReadConsistency::ToString() const {
  switch (kind) {
    case Kind::kAll:
      return "all";
    case Kind::kMajority:
      return "majority";
    case Kind::kQuorum:
      return "quorum";
    case Kind::kFactor:
      break;
  }
  return std::to_string(factor);
}

Result<ReadConsistency> ParseReadConsistency(std::string_view text) {
  ReadConsistency c;
  if (text == "all") {
    c.kind = ReadConsistency::Kind::kAll;
  } else if (text == "majority") {
    c.kind = ReadConsistency::Kind::kMajority;
  } else if (text == "quorum") {
    c.kind = ReadConsistency::Kind::kQuorum;
  } else {
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n == 0) {
      return Status::InvalidArgument("Bad request: consistency `" + std::string(text) +
                                     "` is not one of `all`, `majority`, `quorum` or a number of "
                                     "replicas (1 or more)");
    }
    c.factor = n;
  }
  return c;
}

ReadQuorum QuorumFor(const ReadConsistency& consistency, size_t readable) {
  switch (consistency.kind) {
    case ReadConsistency::Kind::kAll:
      return {readable, true};
    case ReadConsistency::Kind::kMajority:
      return {readable, false};
    case ReadConsistency::Kind::kQuorum:
      return {readable / 2 + 1, true};
    case ReadConsistency::Kind::kFactor:
      break;
  }
  const size_t factor = static_cast<size_t>(std::max<uint64_t>(consistency.factor, 1));
  return {std::max<size_t>(1, std::min(factor, readable)), true};
}

namespace {

// A record's identity across answers: its id and, in an ordered scroll (where one point shows
// once per value it is ordered by), that value.
using RecordKey = std::tuple<segment::PointId, bool, bool, int64_t, double>;

RecordKey KeyOf(const segment::PointRecord& r) {
  if (!r.order_value) return {r.id, false, false, 0, 0};
  return {r.id, true, r.order_value->is_int, r.order_value->integer, r.order_value->real};
}

}  // namespace

ShardReadResult ResolveAnswers(const ShardRead& read, std::vector<ShardReadResult> answers,
                               bool keep_all) {
  ShardReadResult out;
  if (answers.empty()) return out;
  if (answers.size() == 1) return std::move(answers[0]);
  const size_t n = answers.size();
  if (read.kind == ShardRead::Kind::kCount) {
    std::vector<size_t> counts;
    for (const ShardReadResult& a : answers) counts.push_back(a.count);
    std::sort(counts.begin(), counts.end());
    out.count = keep_all ? counts.front() : counts[(n - 1) / 2];
    return out;
  }
  // For every record: how many answers have it, and which copy wins (answer index, record index).
  struct Seen {
    size_t answers = 0;
    size_t answer = 0;
    size_t record = 0;
  };
  std::map<RecordKey, Seen> seen;
  for (size_t a = 0; a < n; ++a) {
    const auto& points = answers[a].records.points;
    for (size_t r = 0; r < points.size(); ++r) {
      auto [it, fresh] = seen.try_emplace(KeyOf(points[r]), Seen{0, a, r});
      Seen& s = it->second;
      if (!fresh && s.answer == a) continue;  // the same answer twice: count it once
      ++s.answers;
      // Answers come in peer id order, so on equal versions the lower peer's copy stays.
      if (!fresh && points[r].version > answers[s.answer].records.points[s.record].version) {
        s.answer = a;
        s.record = r;
      }
    }
  }
  for (auto& [key, s] : seen) {
    const bool kept = keep_all ? s.answers == n : 2 * s.answers > n;
    if (!kept) continue;
    segment::PointRecord& r = answers[s.answer].records.points[s.record];
    if (r.has_payload) r.payload = rapidjson::Value(r.payload, out.records.Allocator());
    out.records.points.push_back(std::move(r));
  }
  auto& points = out.records.points;  // in key order: by id (then order value)
  if (read.kind == ShardRead::Kind::kSearch) {
    std::sort(points.begin(), points.end(),
              [](const segment::PointRecord& a, const segment::PointRecord& b) {
                return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
              });
  } else if (read.kind == ShardRead::Kind::kScrollOrdered) {
    const bool descending = read.order_by && read.order_by->descending;
    std::stable_sort(points.begin(), points.end(),
                     [descending](const segment::PointRecord& a, const segment::PointRecord& b) {
                       return segment::OrderedBefore(a, b, descending);
                     });
  }
  return out;
}

}  // namespace qd::collection
