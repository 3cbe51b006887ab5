#include "qdrantd/router/aggregates.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <tuple>
#include <utility>

#include "qdrantd/index/json_path.h"
#include "qdrantd/router/scoring.h"

namespace qd::router {

namespace {

// Reads every point `filter` passes, `projection` applied, a page at a time.
template <typename Fn>
Status ForEachPoint(const collection::Collection& collection, const segment::PointFilter* filter,
                    const segment::Projection& projection,
                    const collection::ReadConsistency& consistency, Fn&& fn) {
  std::optional<segment::PointId> from;
  do {
    std::optional<segment::PointId> next;
    Result<segment::RecordBatch> page =
        collection.Scroll(from, 4096, filter, projection, next, consistency);
    if (!page.ok()) return page.status();
    for (const segment::PointRecord& r : page->points) fn(r);
    from = next;
  } while (from);
  return Status::Ok();
}

// Values sort: booleans, then integers, then strings, each by value.
auto Order(const FacetValue& v) {
  return std::make_tuple(v.kind == FacetValue::Kind::kString ? 2 : v.kind == FacetValue::Kind::kInteger ? 1 : 0,
                         v.bool_value, v.integer_value, std::string_view(v.string_value));
}

}  // namespace

Result<std::vector<FacetHit>> Facet(const collection::Collection& collection,
                                    const std::string& key, size_t limit,
                                    const segment::PointFilter* filter,
                                    const collection::ReadConsistency& consistency) {
  Result<index::JsonPath> path = index::ParseJsonPath(key);
  if (!path.ok()) return path.status();
  // Only the field is copied out of each payload.
  auto selector = std::make_shared<index::PayloadSelector>(index::PayloadSelector::Mode::kInclude,
                                                           std::vector<index::JsonPath>{*path});
  segment::Projection projection;
  projection.payload = [selector](const rapidjson::Value& in, rapidjson::Value& out,
                                  rapidjson::Document::AllocatorType& a) { selector->Apply(in, out, a); };
  std::map<std::tuple<int, bool, int64_t, std::string>, FacetHit> counts;
  Status read = ForEachPoint(collection, filter, projection, consistency, [&](const segment::PointRecord& r) {
    if (!r.has_payload) return;
    std::vector<const rapidjson::Value*> found, flat;
    index::CollectValues(r.payload, *path, found);
    index::FlattenValues(found, flat);
    std::set<std::tuple<int, bool, int64_t, std::string>> seen;  // a point counts once per value
    for (const rapidjson::Value* v : flat) {
      FacetValue value;
      if (v->IsString()) {
        value.kind = FacetValue::Kind::kString;
        value.string_value.assign(v->GetString(), v->GetStringLength());
      } else if (v->IsInt64()) {
        value.kind = FacetValue::Kind::kInteger;
        value.integer_value = v->GetInt64();
      } else if (v->IsBool()) {
        value.kind = FacetValue::Kind::kBool;
        value.bool_value = v->GetBool();
      } else {
        continue;
      }
      auto [kind, flag, number, text] = Order(value);
      std::tuple<int, bool, int64_t, std::string> k{kind, flag, number, std::string(text)};
      if (!seen.insert(k).second) continue;
      FacetHit& hit = counts[k];
      if (hit.count++ == 0) hit.value = std::move(value);
    }
  });
  if (!read.ok()) return read;
  std::vector<FacetHit> out;
  out.reserve(counts.size());
  for (auto& [k, hit] : counts) out.push_back(std::move(hit));  // value order
  std::stable_sort(out.begin(), out.end(),
                   [](const FacetHit& a, const FacetHit& b) { return a.count > b.count; });
  if (out.size() > limit) out.resize(limit);
  return out;
}

Result<Matrix> DistanceMatrix(const collection::Collection& collection,
                              const std::string& using_name, size_t sample, size_t limit,
                              const segment::PointFilter* filter,
                              const collection::ReadConsistency& consistency) {
  const segment::VectorSpec* spec = nullptr;
  const collection::CollectionConfig config = collection.config();
  for (const segment::VectorSpec& vs : config.vectors) {
    if (vs.name == using_name) spec = &vs;
  }
  if (!spec) return Status::InvalidArgument("Wrong input: Not existing vector name error: " + using_name);
  // The ids first (no payload, no vectors), then the vectors of the sample only.
  std::vector<segment::PointId> all;
  Status read = ForEachPoint(collection, filter, {}, consistency,
                             [&](const segment::PointRecord& r) { all.push_back(r.id); });
  if (!read.ok()) return read;
  std::mt19937_64 rng(std::random_device{}());
  if (all.size() > sample) {
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(sample);
  }
  std::sort(all.begin(), all.end());
  segment::Projection vectors;
  vectors.vector_names = {using_name};
  Matrix out;
  std::vector<segment::Vector> prepared;
  for (size_t at = 0; at < all.size(); at += 1024) {
    std::vector<segment::PointId> page(all.begin() + at, all.begin() + std::min(all.size(), at + 1024));
    Result<segment::RecordBatch> found = collection.Retrieve(page, vectors, consistency);
    if (!found.ok()) return found.status();
    for (segment::PointRecord& r : found->points) {
      if (r.vectors.empty()) continue;  // no such vector: not in the sample
      out.ids.push_back(r.id);
      prepared.push_back(Prepared(spec->distance, std::move(r.vectors[0].second)));
    }
  }
  out.rows.resize(out.ids.size());
  for (size_t i = 0; i < out.ids.size(); ++i) {
    std::vector<Scored> row;
    row.reserve(out.ids.size());
    for (size_t j = 0; j < out.ids.size(); ++j) {
      if (i == j) continue;
      Scored s = NearestScore(spec->distance, prepared[i], prepared[j]);
      s.id = segment::PointId::Num(j);  // the column, so ties go to the lower one
      row.push_back(s);
    }
    const size_t keep = std::min(limit, row.size());
    std::partial_sort(row.begin(), row.begin() + keep, row.end(), [](const Scored& a, const Scored& b) {
      return a.key != b.key ? a.key > b.key : a.id.num < b.id.num;
    });
    for (size_t k = 0; k < keep; ++k) out.rows[i].emplace_back(row[k].id.num, row[k].score);
  }
  return out;
}

}  // namespace qd::router
