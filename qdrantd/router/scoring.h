// Scores the router computes itself, over candidates it already holds (issue #21): the rescore
// of prefetched points by the outer query, Qdrant's custom search objectives (recommend's
// best_score and sum_scores, discover, context) and the fusion of several result lists (rrf,
// dbsf). Pure functions over vectors and lists; query.cc gathers the candidates.
//
// Two kinds of score, as in Qdrant:
// - the *reported* score of a nearest search (Cosine and Dot: the dot product, of unit vectors
//   for Cosine; Euclid: the distance; Manhattan: the L1 distance). Lower is better for the
//   distances;
// - the *similarity* Qdrant's custom objectives combine, higher always better: the dot product
//   for Cosine (unit vectors) and Dot, minus the squared distance for Euclid, minus the L1
//   distance for Manhattan. Those objectives report their own value, with no conversion.
// Thread: any.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "qdrantd/index/hnsw_index.h"
#include "qdrantd/index/payload_index.h"
#include "qdrantd/segment/operation.h"
#include "qdrantd/segment/point_id.h"

namespace qd::router {

// One result: `score` as reported, `key` the same made "higher is better" (the negated
// distance for Euclid and Manhattan nearest searches, the score otherwise). Results ordered by
// a payload field carry the value they stand for.
struct Scored {
  segment::PointId id;
  float score = 0;
  float key = 0;
  std::optional<index::OrderValue> order_value;
};

// Sorts best first: higher key, ties by id ascending (deterministic across shards).
void SortBest(std::vector<Scored>& list);

// A vector as the metric sees it: Cosine's unit length (a zero vector stays zero), others as
// given. Sparse vectors are returned as given, indices sorted.
segment::Vector Prepared(index::Distance distance, segment::Vector v);

// Qdrant's similarity of two prepared vectors (see above). Sparse: the dot product over shared
// indices. The dense sizes must match.
float Similarity(index::Distance distance, const segment::Vector& a, const segment::Vector& b);

// What a nearest search reports for two prepared vectors, and its key.
Scored NearestScore(index::Distance distance, const segment::Vector& query,
                    const segment::Vector& stored);

// Qdrant's scaled fast sigmoid, 0.5 * (x / (1 + |x|) + 1): maps any similarity into (0, 1).
float ScaledFastSigmoid(float x);

// recommend's objectives over the similarities of a candidate to each example.
// best_score: the sigmoid of the best positive when it beats the best negative, else minus the
// sigmoid of the best negative. sum_scores: positives' sum minus negatives' sum.
float BestScore(const std::vector<float>& positive, const std::vector<float>& negative);
float SumScores(const std::vector<float>& positive, const std::vector<float>& negative);

// discover: the rank (+1 per context pair whose positive is more similar than its negative, -1
// otherwise) plus the sigmoid of the target's similarity. context: the sum over pairs of
// min(0, positive - negative - epsilon), 0 for a candidate inside every pair's positive side.
// Each pair is (similarity to positive, similarity to negative).
float DiscoverScore(float target, const std::vector<std::pair<float, float>>& pairs);
float ContextScore(const std::vector<std::pair<float, float>>& pairs);

// recommend's average_vector: avg(positive) + (avg(positive) - avg(negative)), or avg(positive)
// without negatives. Dense vectors of one size; `positive` not empty.
segment::Vector AverageVector(const std::vector<segment::Vector>& positive,
                              const std::vector<segment::Vector>& negative);

// Reciprocal rank fusion: a point scores sum_i weight_i / (k + position_i) over the lists it is
// in (position from 0; weights 1 when `weights` is empty). Result sorted best first.
std::vector<Scored> FuseRrf(const std::vector<std::vector<Scored>>& lists, uint32_t k,
                            const std::vector<float>& weights);

// Distribution-based score fusion: each list's keys are normalised to its mean +- 3 standard
// deviations ((key - (mean - 3sd)) / 6sd; 0.5 when all are equal), and a point scores the sum of
// its normalised keys. Result sorted best first.
std::vector<Scored> FuseDbsf(const std::vector<std::vector<Scored>>& lists);

}  // namespace qd::router
