#include "qdrantd/router/scoring.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <utility>

namespace qd::router {

namespace {

float SparseDot(const segment::Vector& a, const segment::Vector& b) {
  float sum = 0;
  size_t i = 0, j = 0;
  while (i < a.indices.size() && j < b.indices.size()) {
    if (a.indices[i] < b.indices[j]) {
      ++i;
    } else if (a.indices[i] > b.indices[j]) {
      ++j;
    } else {
      sum += a.values[i++] * b.values[j++];
    }
  }
  return sum;
}

float Dot(const std::vector<float>& a, const std::vector<float>& b) {
  float sum = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) sum += a[i] * b[i];
  return sum;
}

float SquaredDistance(const std::vector<float>& a, const std::vector<float>& b) {
  float sum = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  return sum;
}

float L1Distance(const std::vector<float>& a, const std::vector<float>& b) {
  float sum = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) sum += std::fabs(a[i] - b[i]);
  return sum;
}

// The fused sums as a list, best first.
std::vector<Scored> Collect(
    const std::unordered_map<segment::PointId, float, segment::PointIdHash>& sums) {
  std::vector<Scored> out;
  out.reserve(sums.size());
  for (const auto& [id, sum] : sums) out.push_back(Scored{id, sum, sum});
  SortBest(out);
  return out;
}

}  // namespace

void SortBest(std::vector<Scored>& list) {
  std::sort(list.begin(), list.end(), [](const Scored& a, const Scored& b) {
    if (a.key != b.key) return a.key > b.key;
    return a.id < b.id;
  });
}

segment::Vector Prepared(index::Distance distance, segment::Vector v) {
  if (v.sparse) {
    std::vector<size_t> order(v.indices.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return v.indices[a] < v.indices[b]; });
    segment::Vector sorted;
    sorted.sparse = true;
    for (size_t i : order) {
      sorted.indices.push_back(v.indices[i]);
      sorted.values.push_back(v.values[i]);
    }
    return sorted;
  }
  if (distance == index::Distance::kCosine) {
    float norm = std::sqrt(Dot(v.dense, v.dense));
    if (norm > 0) {
      for (float& x : v.dense) x /= norm;
    }
  }
  return v;
}

float Similarity(index::Distance distance, const segment::Vector& a, const segment::Vector& b) {
  if (a.sparse || b.sparse) return SparseDot(a, b);
  switch (distance) {
    case index::Distance::kCosine:
    case index::Distance::kDot:
      return Dot(a.dense, b.dense);
    case index::Distance::kEuclid:
      return -SquaredDistance(a.dense, b.dense);
    case index::Distance::kManhattan:
      return -L1Distance(a.dense, b.dense);
  }
  return 0;
}

Scored NearestScore(index::Distance distance, const segment::Vector& query,
                    const segment::Vector& stored) {
  Scored out;
  if (query.sparse || stored.sparse) {
    out.score = out.key = SparseDot(query, stored);
    return out;
  }
  switch (distance) {
    case index::Distance::kCosine:
    case index::Distance::kDot:
      out.score = out.key = Dot(query.dense, stored.dense);
      break;
    case index::Distance::kEuclid:
      out.score = std::sqrt(SquaredDistance(query.dense, stored.dense));
      out.key = -out.score;
      break;
    case index::Distance::kManhattan:
      out.score = L1Distance(query.dense, stored.dense);
      out.key = -out.score;
      break;
  }
  return out;
}

float ScaledFastSigmoid(float x) { return 0.5f * (x / (1.0f + std::fabs(x)) + 1.0f); }

float BestScore(const std::vector<float>& positive, const std::vector<float>& negative) {
  const float low = -std::numeric_limits<float>::infinity();
  float best_positive =
      positive.empty() ? low : *std::max_element(positive.begin(), positive.end());
  float best_negative =
      negative.empty() ? low : *std::max_element(negative.begin(), negative.end());
  if (best_positive > best_negative) return ScaledFastSigmoid(best_positive);
  return -ScaledFastSigmoid(best_negative);
}

float SumScores(const std::vector<float>& positive, const std::vector<float>& negative) {
  float sum = 0;
  for (float s : positive) sum += s;
  for (float s : negative) sum -= s;
  return sum;
}

float DiscoverScore(float target, const std::vector<std::pair<float, float>>& pairs) {
  int rank = 0;
  for (const auto& [positive, negative] : pairs) rank += positive > negative ? 1 : -1;
  return static_cast<float>(rank) + ScaledFastSigmoid(target);
}

float ContextScore(const std::vector<std::pair<float, float>>& pairs) {
  const float margin = std::numeric_limits<float>::epsilon();
  float loss = 0;
  for (const auto& [positive, negative] : pairs)
    loss += std::min(positive - negative - margin, 0.0f);
  return loss;
}

segment::Vector AverageVector(const std::vector<segment::Vector>& positive,
                              const std::vector<segment::Vector>& negative) {
  auto average = [](const std::vector<segment::Vector>& list) {
    std::vector<float> sum(list.front().dense.size(), 0.0f);
    for (const segment::Vector& v : list) {
      for (size_t i = 0; i < sum.size() && i < v.dense.size(); ++i) sum[i] += v.dense[i];
    }
    for (float& x : sum) x /= static_cast<float>(list.size());
    return sum;
  };
  segment::Vector out;
  out.dense = average(positive);
  if (!negative.empty()) {
    std::vector<float> avg_negative = average(negative);
    for (size_t i = 0; i < out.dense.size(); ++i) {
      out.dense[i] += out.dense[i] - avg_negative[i];
    }
  }
  return out;
}

std::vector<Scored> FuseRrf(const std::vector<std::vector<Scored>>& lists, uint32_t k,
                            const std::vector<float>& weights) {
  std::unordered_map<segment::PointId, float, segment::PointIdHash> sums;
  for (size_t l = 0; l < lists.size(); ++l) {
    float weight = l < weights.size() ? weights[l] : 1.0f;
    for (size_t position = 0; position < lists[l].size(); ++position) {
      sums[lists[l][position].id] +=
          weight / (static_cast<float>(k) + static_cast<float>(position));
    }
  }
  return Collect(sums);
}

std::vector<Scored> FuseDbsf(const std::vector<std::vector<Scored>>& lists) {
  std::unordered_map<segment::PointId, float, segment::PointIdHash> sums;
  for (const std::vector<Scored>& list : lists) {
    if (list.empty()) continue;
    float mean = 0;
    for (const Scored& s : list) mean += s.key;
    mean /= static_cast<float>(list.size());
    float variance = 0;
    for (const Scored& s : list) variance += (s.key - mean) * (s.key - mean);
    // The sample variance; one score has none, and normalises to the middle.
    variance = list.size() > 1 ? variance / static_cast<float>(list.size() - 1) : 0;
    const float sd = std::sqrt(variance);
    const float low = mean - 3 * sd, high = mean + 3 * sd;
    for (const Scored& s : list) {
      sums[s.id] += high > low ? (s.key - low) / (high - low) : 0.5f;
    }
  }
  return Collect(sums);
}

}  // namespace qd::router
