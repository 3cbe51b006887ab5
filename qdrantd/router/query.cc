#include "qdrantd/router/query.h"

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "qdrantd/index/json_path.h"
#include "qdrantd/router/scoring.h"

namespace qd::router {

namespace {

using segment::PointId;
using segment::PointRecord;
using segment::RecordBatch;
using segment::Vector;
using IdSet = std::unordered_set<PointId, segment::PointIdHash>;

// `filter` with `ids` left out: {"must": [filter], "must_not": [{"has_id": ids}]}.
Result<segment::PointFilter> Excluding(const segment::PointFilter& filter,
                                       const std::vector<PointId>& ids) {
  if (ids.empty()) return filter;
  std::string json = "{";
  if (filter) json += "\"must\":[" + filter.json + "],";
  json += "\"must_not\":[{\"has_id\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) json += ',';
    json += ids[i].ToJson();
  }
  json += "]}]}";
  return segment::PointFilter::ParseText(json, "filter");
}

// `filter` narrowed to `ids`: {"must": [filter, {"has_id": ids}]}.
Result<segment::PointFilter> Among(const segment::PointFilter& filter,
                                   const std::vector<PointId>& ids) {
  std::string json = "{\"must\":[";
  if (filter) json += filter.json + ",";
  json += "{\"has_id\":[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) json += ',';
    json += ids[i].ToJson();
  }
  json += "]}]}";
  return segment::PointFilter::ParseText(json, "filter");
}

// Both filters: a prefetch runs with its parent's filter as well as its own (Qdrant's rule).
Result<segment::PointFilter> Both(const segment::PointFilter& a, const segment::PointFilter& b) {
  if (!a) return b;
  if (!b) return a;
  return segment::PointFilter::ParseText("{\"must\":[" + a.json + "," + b.json + "]}", "filter");
}

// Runs the plain queries the collection answers itself (nearest, order_by, listing) with the
// query's own filter pointer set. The records carry what query.projection asks for.
Result<RecordBatch> RunDirect(const collection::Collection& collection, Query query) {
  const segment::PointFilter* filter = query.filter ? &query.filter : nullptr;
  segment::SearchSpec& spec = query.spec;
  switch (query.kind) {
    case Query::Kind::kOrderBy:
      return collection.QueryOrdered(*query.order_by, spec.offset, spec.limit, filter,
                                     query.projection, query.consistency);
    case Query::Kind::kList:
      return collection.QueryListed(spec.offset, spec.limit, filter, query.projection,
                                    query.consistency);
    case Query::Kind::kNearestToPoint: {
      // Qdrant searches with the point's stored vector and leaves the point out of the results;
      // leaving it out in the filter (not after the search) keeps offset and limit exact.
      segment::Projection vector_only;
      vector_only.vector_names = {spec.vector_name};
      Result<RecordBatch> found =
          collection.Retrieve({query.point}, vector_only, query.consistency);
      if (!found.ok()) return found.status();
      if (found->points.empty() || found->points[0].vectors.empty()) {
        return Status::NotFound("No point with id " + query.point.ToString() + " found");
      }
      spec.query = std::move(found->points[0].vectors[0].second);
      Result<segment::PointFilter> excluding = Excluding(query.filter, {query.point});
      if (!excluding.ok()) return excluding.status();
      query.filter = std::move(*excluding);
      filter = &query.filter;
      break;
    }
    default:
      break;
  }
  spec.filter = filter;
  return collection.Search(spec, query.projection, query.consistency);
}

// The vector a query ranks by: its name's spec.
Result<segment::VectorSpec> SpecOf(const collection::Collection& collection,
                                   const std::string& name) {
  for (const segment::VectorSpec& vs : collection.config().vectors) {
    if (vs.name == name) return vs;
  }
  return Status::InvalidArgument("Wrong input: Not existing vector name error: " + name);
}

// The stored vectors `name` of `ids`, by id; points without one are absent.
Result<std::unordered_map<PointId, Vector, segment::PointIdHash>> VectorsOf(
    const collection::Collection& collection, const std::vector<PointId>& ids,
    const std::string& name, const collection::ReadConsistency& consistency) {
  segment::Projection vector_only;
  vector_only.vector_names = {name};
  Result<RecordBatch> found = collection.Retrieve(ids, vector_only, consistency);
  if (!found.ok()) return found.status();
  std::unordered_map<PointId, Vector, segment::PointIdHash> out;
  for (PointRecord& r : found->points) {
    if (!r.vectors.empty()) out.emplace(r.id, std::move(r.vectors[0].second));
  }
  return out;
}

// A query's examples made vectors (stored points read for the ids), checked against the vector
// they rank by, and prepared for the metric. `ids` collects the example ids, to leave out.
class Examples {
 public:
  Examples(const collection::Collection& collection, const Query& query, segment::VectorSpec spec)
      : collection_(collection), query_(query), spec_(std::move(spec)) {}

  // Reads every id among `inputs` in one call.
  Status Load(const std::vector<const VectorInput*>& inputs) {
    std::vector<PointId> wanted;
    for (const VectorInput* in : inputs) {
      if (in->id && seen_.insert(*in->id).second) wanted.push_back(*in->id);
    }
    ids_.insert(ids_.end(), wanted.begin(), wanted.end());
    if (wanted.empty()) return Status::Ok();
    auto found = VectorsOf(collection_, wanted, spec_.name, query_.consistency);
    if (!found.ok()) return found.status();
    stored_ = std::move(*found);
    return Status::Ok();
  }

  Result<Vector> Get(const VectorInput& in) const {
    Vector v;
    if (in.id) {
      auto it = stored_.find(*in.id);
      if (it == stored_.end()) {
        return Status::NotFound("No point with id " + in.id->ToString() + " found");
      }
      v = it->second;
    } else {
      v = in.vector;
    }
    if (v.sparse != spec_.sparse) {
      return Status::InvalidArgument(std::string("Wrong input: vector `") + spec_.name + "` is " +
                                     (spec_.sparse ? "sparse" : "dense") + ", the example is not");
    }
    if (!v.sparse && v.dense.size() != spec_.dim) {
      return Status::InvalidArgument(
          "Wrong input: Vector dimension error: expected dim: " + std::to_string(spec_.dim) +
          ", got " + std::to_string(v.dense.size()));
    }
    return Prepared(spec_.distance, std::move(v));
  }

  Result<std::vector<Vector>> GetAll(const std::vector<VectorInput>& inputs) const {
    std::vector<Vector> out;
    for (const VectorInput& in : inputs) {
      Result<Vector> v = Get(in);
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    return out;
  }

  const std::vector<PointId>& ids() const { return ids_; }

 private:
  const collection::Collection& collection_;
  const Query& query_;
  segment::VectorSpec spec_;
  IdSet seen_;
  std::vector<PointId> ids_;
  std::unordered_map<PointId, Vector, segment::PointIdHash> stored_;
};

// How a query scores one candidate's prepared vector, and the vectors that find candidates for
// it when there is no prefetch (a nearest search around each).
struct Scorer {
  std::function<Scored(const Vector&)> score;
  std::vector<Vector> seeds;
};

Result<Scorer> MakeScorer(const Query& query, const Examples& examples, index::Distance distance) {
  Scorer out;
  auto similarities = [distance](const std::vector<Vector>& list, const Vector& x) {
    std::vector<float> s;
    s.reserve(list.size());
    for (const Vector& v : list) s.push_back(Similarity(distance, v, x));
    return s;
  };
  auto own = [](float s) { return Scored{PointId{}, s, s}; };
  switch (query.kind) {
    case Query::Kind::kNearest: {
      Vector q = Prepared(distance, query.spec.query);
      out.score = [distance, q](const Vector& x) { return NearestScore(distance, q, x); };
      out.seeds.push_back(std::move(q));
      return out;
    }
    case Query::Kind::kNearestToPoint: {
      VectorInput in;
      in.id = query.point;
      Result<Vector> q = examples.Get(in);
      if (!q.ok()) return q.status();
      out.score = [distance, q = *q](const Vector& x) { return NearestScore(distance, q, x); };
      out.seeds.push_back(std::move(*q));
      return out;
    }
    case Query::Kind::kRecommend: {
      Result<std::vector<Vector>> positive = examples.GetAll(query.positive);
      if (!positive.ok()) return positive.status();
      Result<std::vector<Vector>> negative = examples.GetAll(query.negative);
      if (!negative.ok()) return negative.status();
      if (query.strategy == Query::Strategy::kAverageVector) {
        if (positive->empty()) {
          return Status::InvalidArgument(
              "Bad request: At least one positive vector ID required with this strategy");
        }
        if (positive->front().sparse) {
          return Status::InvalidArgument(
              "Bad request: the average_vector strategy needs dense vectors; use best_score or "
              "sum_scores for sparse ones");
        }
        Vector q = Prepared(distance, AverageVector(*positive, *negative));
        out.score = [distance, q](const Vector& x) { return NearestScore(distance, q, x); };
        out.seeds.push_back(std::move(q));
        return out;
      }
      if (positive->empty() && negative->empty()) {
        return Status::InvalidArgument(
            "Bad request: At least one positive or negative example is required");
      }
      const bool best = query.strategy == Query::Strategy::kBestScore;
      out.seeds = *positive;
      out.score = [=, p = std::move(*positive), n = std::move(*negative)](const Vector& x) {
        std::vector<float> ps = similarities(p, x), ns = similarities(n, x);
        return own(best ? BestScore(ps, ns) : SumScores(ps, ns));
      };
      return out;
    }
    case Query::Kind::kDiscover:
    case Query::Kind::kContext: {
      std::vector<std::pair<Vector, Vector>> pairs;
      for (const auto& [plus, minus] : query.pairs) {
        Result<Vector> p = examples.Get(plus);
        if (!p.ok()) return p.status();
        Result<Vector> m = examples.Get(minus);
        if (!m.ok()) return m.status();
        out.seeds.push_back(*p);
        pairs.emplace_back(std::move(*p), std::move(*m));
      }
      auto pair_similarities = [distance, pairs](const Vector& x) {
        std::vector<std::pair<float, float>> s;
        s.reserve(pairs.size());
        for (const auto& [p, m] : pairs) {
          s.emplace_back(Similarity(distance, p, x), Similarity(distance, m, x));
        }
        return s;
      };
      if (query.kind == Query::Kind::kContext) {
        if (pairs.empty()) {
          return Status::InvalidArgument("Bad request: context needs at least one pair");
        }
        out.score = [=](const Vector& x) { return own(ContextScore(pair_similarities(x))); };
        return out;
      }
      Result<Vector> target = examples.Get(query.target);
      if (!target.ok()) return target.status();
      out.seeds.insert(out.seeds.begin(), *target);
      out.score = [=, t = std::move(*target)](const Vector& x) {
        return own(DiscoverScore(Similarity(distance, t, x), pair_similarities(x)));
      };
      return out;
    }
    default:
      return Status::InvalidArgument("Bad request: this query cannot rank prefetched points");
  }
}

std::vector<const VectorInput*> InputsOf(const Query& query, VectorInput& point) {
  std::vector<const VectorInput*> out;
  if (query.kind == Query::Kind::kNearestToPoint) {
    point.id = query.point;
    out.push_back(&point);
  }
  for (const VectorInput& in : query.positive) out.push_back(&in);
  for (const VectorInput& in : query.negative) out.push_back(&in);
  if (query.kind == Query::Kind::kDiscover) out.push_back(&query.target);
  for (const auto& [plus, minus] : query.pairs) {
    out.push_back(&plus);
    out.push_back(&minus);
  }
  return out;
}

bool PassesThreshold(const Query& query, const segment::VectorSpec& vs, const Scored& s) {
  if (!query.spec.score_threshold) return true;
  const bool distance_like =
      !vs.sparse &&
      (vs.distance == index::Distance::kEuclid || vs.distance == index::Distance::kManhattan) &&
      (query.kind == Query::Kind::kNearest || query.kind == Query::Kind::kNearestToPoint ||
       (query.kind == Query::Kind::kRecommend &&
        query.strategy == Query::Strategy::kAverageVector));
  return distance_like ? s.score <= *query.spec.score_threshold
                       : s.score >= *query.spec.score_threshold;
}

// Scores `candidates` (ids, vectors read here) or every point that passes `filter` (exact
// scan) with `scorer`, best `want` first.
Result<std::vector<Scored>> Rescore(const collection::Collection& collection, const Query& query,
                                    const segment::VectorSpec& vs, const Scorer& scorer,
                                    const std::vector<PointId>& candidates, size_t want) {
  std::vector<Scored> out;
  auto add = [&](const PointId& id, Vector v) {
    Scored s = scorer.score(Prepared(vs.distance, std::move(v)));
    s.id = id;
    if (PassesThreshold(query, vs, s)) out.push_back(s);
  };
  // Candidates are read in pages: a prefetch's union is small, but a scan's is not.
  constexpr size_t kPage = 1024;
  for (size_t at = 0; at < candidates.size(); at += kPage) {
    std::vector<PointId> page(candidates.begin() + at,
                              candidates.begin() + std::min(candidates.size(), at + kPage));
    auto vectors = VectorsOf(collection, page, vs.name, query.consistency);
    if (!vectors.ok()) return vectors.status();
    for (auto& [id, v] : *vectors) add(id, std::move(v));
  }
  SortBest(out);
  if (out.size() > want) out.resize(want);
  return out;
}

// Every point id that passes `filter`, in id order (Rescore skips those without the vector).
Result<std::vector<PointId>> Scan(const collection::Collection& collection, const Query& query,
                                  const segment::PointFilter* filter) {
  std::vector<PointId> out;
  std::optional<PointId> from;
  segment::Projection none;
  do {
    std::optional<PointId> next;
    Result<RecordBatch> page = collection.Scroll(from, 4096, filter, none, next, query.consistency);
    if (!page.ok()) return page.status();
    for (const PointRecord& r : page->points) out.push_back(r.id);
    from = next;
  } while (from);
  return out;
}

Scored FromRecord(const PointRecord& r, const segment::VectorSpec* vs, size_t position) {
  Scored s{r.id, r.score, r.score, r.order_value};
  if (!vs) {
    s.key = -static_cast<float>(position);  // ordered pages: their order is the ranking
  } else if (!vs->sparse && (vs->distance == index::Distance::kEuclid ||
                             vs->distance == index::Distance::kManhattan)) {
    s.key = -r.score;
  }
  return s;
}

// The best spec.limit + spec.offset results of `query` (with `inherited` applied as well),
// ids and scores only.
Result<std::vector<Scored>> Evaluate(const collection::Collection& collection, Query& query,
                                     const segment::PointFilter& inherited) {
  Result<segment::PointFilter> filter = Both(inherited, query.filter);
  if (!filter.ok()) return filter.status();
  const size_t want = query.spec.limit + query.spec.offset;
  std::vector<std::vector<Scored>> lists;
  for (Query& p : query.prefetch) {
    p.consistency = query.consistency;
    Result<std::vector<Scored>> list = Evaluate(collection, p, *filter);
    if (!list.ok()) return list.status();
    lists.push_back(std::move(*list));
  }
  const bool prefetched = !query.prefetch.empty();

  if (query.kind == Query::Kind::kFusion) {
    if (!prefetched) {
      return Status::InvalidArgument(
          "Bad request: fusion needs `prefetch`: it fuses their results");
    }
    if (!query.rrf_weights.empty() && query.rrf_weights.size() != lists.size()) {
      return Status::InvalidArgument(
          "Bad request: rrf has " + std::to_string(query.rrf_weights.size()) + " weights for " +
          std::to_string(lists.size()) + " prefetches: give one per prefetch");
    }
    std::vector<Scored> fused = query.fusion == Query::Fusion::kRrf
                                    ? FuseRrf(lists, query.rrf_k, query.rrf_weights)
                                    : FuseDbsf(lists);
    if (query.spec.score_threshold) {
      std::erase_if(fused, [&](const Scored& s) { return s.score < *query.spec.score_threshold; });
    }
    if (fused.size() > want) fused.resize(want);
    return fused;
  }
  if (query.kind == Query::Kind::kSample) {
    // Among the prefetched points, or every point the filter passes.
    std::vector<PointId> pool;
    if (prefetched) {
      IdSet seen;
      for (const std::vector<Scored>& list : lists) {
        for (const Scored& s : list) {
          if (seen.insert(s.id).second) pool.push_back(s.id);
        }
      }
    } else {
      Result<std::vector<PointId>> all = Scan(collection, query, *filter ? &*filter : nullptr);
      if (!all.ok()) return all.status();
      pool = std::move(*all);
    }
    thread_local std::mt19937_64 rng(std::random_device{}());
    std::shuffle(pool.begin(), pool.end(), rng);
    if (pool.size() > want) pool.resize(want);
    std::vector<Scored> out;
    for (const PointId& id : pool) out.push_back(Scored{id, 0, 0});
    return out;
  }
  if (prefetched && query.kind == Query::Kind::kList) {
    if (lists.size() != 1) {
      return Status::InvalidArgument(
          "Bad request: several prefetches need a `query` (a fusion or a vector) to merge them");
    }
    if (lists[0].size() > want) lists[0].resize(want);
    return std::move(lists[0]);
  }
  if (prefetched && query.kind == Query::Kind::kOrderBy) {
    // The prefetched points ordered by the payload field: the collection's ordered read,
    // narrowed to them by id (the payload indexes plan has_id to exactly those points).
    std::vector<PointId> ids;
    IdSet seen;
    for (const std::vector<Scored>& list : lists) {
      for (const Scored& s : list) {
        if (seen.insert(s.id).second) ids.push_back(s.id);
      }
    }
    if (ids.empty()) return std::vector<Scored>{};
    Result<segment::PointFilter> among = Among(*filter, ids);
    if (!among.ok()) return among.status();
    Result<RecordBatch> page =
        collection.QueryOrdered(*query.order_by, 0, want, &*among, {}, query.consistency);
    if (!page.ok()) return page.status();
    std::vector<Scored> out;
    for (size_t i = 0; i < page->points.size(); ++i) {
      out.push_back(FromRecord(page->points[i], nullptr, i));
    }
    return out;
  }

  // The queries the collection answers itself: its best `want`, ids and scores only. `vs`
  // null: an ordered page, ranked by position.
  auto direct = [&](const segment::VectorSpec* vs) -> Result<std::vector<Scored>> {
    Query plain = query;
    plain.filter = std::move(*filter);
    plain.projection = {};
    plain.spec.limit = want;
    plain.spec.offset = 0;
    Result<RecordBatch> page = RunDirect(collection, std::move(plain));
    if (!page.ok()) return page.status();
    std::vector<Scored> out;
    for (size_t i = 0; i < page->points.size(); ++i) {
      out.push_back(FromRecord(page->points[i], vs, i));
    }
    return out;
  };
  if (query.kind == Query::Kind::kOrderBy || query.kind == Query::Kind::kList) {
    return direct(nullptr);
  }

  Result<segment::VectorSpec> vs = SpecOf(collection, query.spec.vector_name);
  if (!vs.ok()) return vs.status();
  if (!prefetched &&
      (query.kind == Query::Kind::kNearest || query.kind == Query::Kind::kNearestToPoint)) {
    return direct(&*vs);
  }

  Examples examples(collection, query, *vs);
  VectorInput point;
  Status loaded = examples.Load(InputsOf(query, point));
  if (!loaded.ok()) return loaded;
  Result<Scorer> scorer = MakeScorer(query, examples, vs->distance);
  if (!scorer.ok()) return scorer.status();
  // The examples given by id are never results (Qdrant's rule).
  Result<segment::PointFilter> excluding = Excluding(*filter, examples.ids());
  if (!excluding.ok()) return excluding.status();
  const segment::PointFilter* narrowed = *excluding ? &*excluding : nullptr;

  std::vector<PointId> candidates;
  if (prefetched) {
    IdSet seen;
    IdSet examples_ids(examples.ids().begin(), examples.ids().end());
    for (const std::vector<Scored>& list : lists) {
      for (const Scored& s : list) {
        if (!examples_ids.count(s.id) && seen.insert(s.id).second) candidates.push_back(s.id);
      }
    }
  } else if (query.kind == Query::Kind::kRecommend &&
             query.strategy == Query::Strategy::kAverageVector) {
    // A nearest search with the averaged vector: the collection's own index, limit and offset.
    segment::SearchSpec spec = query.spec;
    spec.query = scorer->seeds.front();
    spec.limit = want;
    spec.offset = 0;
    spec.filter = narrowed;
    Result<RecordBatch> page = collection.Search(spec, {}, query.consistency);
    if (!page.ok()) return page.status();
    std::vector<Scored> out;
    for (size_t i = 0; i < page->points.size(); ++i) {
      out.push_back(FromRecord(page->points[i], &*vs, i));
    }
    return out;
  } else if (query.spec.exact || scorer->seeds.empty()) {
    // Exact: every point is a candidate, as Qdrant's exact search of a custom objective scores
    // them all.
    Result<std::vector<PointId>> all = Scan(collection, query, narrowed);
    if (!all.ok()) return all.status();
    candidates = std::move(*all);
  } else {
    // The graph cannot walk a custom objective here (hnswlib's walk is by distance), so the
    // candidates are the nearest neighbours of each example that can score well: the positive
    // ones, the discover target and each context pair's positive. Qdrant walks the graph with
    // the objective; both are approximate, and `exact: true` scores every point.
    const size_t per_seed = std::max<size_t>({want * 4, query.spec.ef, 64});
    IdSet seen;
    for (const Vector& seed : scorer->seeds) {
      segment::SearchSpec spec;
      spec.vector_name = vs->name;
      spec.query = seed;
      spec.limit = per_seed;
      spec.ef = query.spec.ef;
      spec.filter = narrowed;
      Result<RecordBatch> near = collection.Search(spec, {}, query.consistency);
      if (!near.ok()) return near.status();
      for (const PointRecord& r : near->points) {
        if (seen.insert(r.id).second) candidates.push_back(r.id);
      }
    }
  }
  return Rescore(collection, query, *vs, *scorer, candidates, want);
}

// Replaces every id a lookup_from names (examples, a nearest id) by the vector read from the
// other collection, through the whole tree.
Status ApplyLookups(Query& query) {
  for (Query& p : query.prefetch) {
    Status s = ApplyLookups(p);
    if (!s.ok()) return s;
  }
  if (!query.lookup_from) return Status::Ok();
  const LookupFrom& lookup = *query.lookup_from;
  if (!lookup.resolved)
    return Status::Internal("lookup_from `" + lookup.collection + "` not resolved");
  VectorInput point;
  std::vector<VectorInput*> inputs;
  if (query.kind == Query::Kind::kNearestToPoint) {
    point.id = query.point;
    inputs.push_back(&point);
  }
  for (VectorInput& in : query.positive) inputs.push_back(&in);
  for (VectorInput& in : query.negative) inputs.push_back(&in);
  if (query.kind == Query::Kind::kDiscover) inputs.push_back(&query.target);
  for (auto& [plus, minus] : query.pairs) {
    inputs.push_back(&plus);
    inputs.push_back(&minus);
  }
  std::vector<PointId> ids;
  for (VectorInput* in : inputs) {
    if (in->id) ids.push_back(*in->id);
  }
  if (ids.empty()) return Status::Ok();
  auto found = VectorsOf(*lookup.resolved, ids, lookup.vector, query.consistency);
  if (!found.ok()) return found.status();
  for (VectorInput* in : inputs) {
    if (!in->id) continue;
    auto it = found->find(*in->id);
    if (it == found->end()) {
      return Status::NotFound("No point with id " + in->id->ToString() + " found in collection `" +
                              lookup.collection + "`");
    }
    in->vector = it->second;
    in->id.reset();
  }
  if (query.kind == Query::Kind::kNearestToPoint) {
    query.kind = Query::Kind::kNearest;
    query.spec.query = std::move(point.vector);
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> LookupCollections(const Query& query) {
  std::vector<std::string> out;
  std::function<void(const Query&)> walk = [&](const Query& q) {
    if (q.lookup_from &&
        std::find(out.begin(), out.end(), q.lookup_from->collection) == out.end()) {
      out.push_back(q.lookup_from->collection);
    }
    for (const Query& p : q.prefetch) walk(p);
  };
  walk(query);
  return out;
}

Status ResolveLookups(Query& query, const CollectionLookup& get) {
  for (Query& p : query.prefetch) {
    Status s = ResolveLookups(p, get);
    if (!s.ok()) return s;
  }
  if (!query.lookup_from) return Status::Ok();
  Result<std::shared_ptr<collection::Collection>> c = get(query.lookup_from->collection);
  if (!c.ok()) return c.status();
  query.lookup_from->resolved = std::move(*c);
  return Status::Ok();
}

Result<segment::RecordBatch> Run(const collection::Collection& collection, Query query) {
  Status looked_up = ApplyLookups(query);
  if (!looked_up.ok()) return looked_up;
  const bool plain =
      query.prefetch.empty() &&
      (query.kind == Query::Kind::kNearest || query.kind == Query::Kind::kNearestToPoint ||
       query.kind == Query::Kind::kOrderBy || query.kind == Query::Kind::kList);
  if (plain) return RunDirect(collection, std::move(query));
  Result<std::vector<Scored>> ranked = Evaluate(collection, query, segment::PointFilter{});
  if (!ranked.ok()) return ranked.status();
  // The page, then its records with what the query projects.
  std::vector<PointId> ids;
  for (size_t i = query.spec.offset; i < ranked->size(); ++i) ids.push_back((*ranked)[i].id);
  RecordBatch out;
  if (ids.empty()) return out;
  Result<RecordBatch> records = collection.Retrieve(ids, query.projection, query.consistency);
  if (!records.ok()) return records.status();
  std::unordered_map<PointId, size_t, segment::PointIdHash> at;
  for (size_t i = 0; i < records->points.size(); ++i) at.emplace(records->points[i].id, i);
  out.arena = records->arena;
  for (size_t i = query.spec.offset; i < ranked->size(); ++i) {
    auto it = at.find((*ranked)[i].id);
    if (it == at.end()) continue;  // deleted since it was scored
    PointRecord r = std::move(records->points[it->second]);
    r.score = (*ranked)[i].score;
    r.order_value = (*ranked)[i].order_value;
    out.points.push_back(std::move(r));
  }
  return out;
}

namespace {

// The group keys of one payload: each string or integer value at `path` (arrays flattened).
std::vector<GroupKey> KeysOf(const rapidjson::Value& payload, const index::JsonPath& path) {
  std::vector<const rapidjson::Value*> found, flat;
  index::CollectValues(payload, path, found);
  index::FlattenValues(found, flat);
  std::vector<GroupKey> out;
  for (const rapidjson::Value* v : flat) {
    GroupKey key;
    if (v->IsString()) {
      key.kind = GroupKey::Kind::kString;
      key.string_value.assign(v->GetString(), v->GetStringLength());
    } else if (v->IsUint64()) {
      key.kind = GroupKey::Kind::kUnsigned;
      key.unsigned_value = v->GetUint64();
    } else if (v->IsInt64()) {
      key.kind = GroupKey::Kind::kInteger;
      key.integer_value = v->GetInt64();
    } else {
      continue;
    }
    out.push_back(std::move(key));
  }
  return out;
}

std::string Text(const GroupKey& key) {
  switch (key.kind) {
    case GroupKey::Kind::kString:
      return "s" + key.string_value;
    case GroupKey::Kind::kUnsigned:
      return "u" + std::to_string(key.unsigned_value);
    case GroupKey::Kind::kInteger:
      return "i" + std::to_string(key.integer_value);
  }
  return {};
}

}  // namespace

Result<Groups> RunGroups(const collection::Collection& collection, Query query,
                         const std::string& group_by, size_t group_size) {
  Result<index::JsonPath> path = index::ParseJsonPath(group_by);
  if (!path.ok()) return path.status();
  const size_t limit = query.spec.limit;
  const segment::Projection wanted = query.projection;
  struct Hit {
    PointId id;
    float score;
    segment::OpNum version;
  };
  struct Building {
    GroupKey id;
    std::vector<Hit> hits;
  };
  std::vector<Building> groups;
  // Only the field is copied out of each ranked point's payload.
  const index::PayloadSelector only_key(index::PayloadSelector::Mode::kInclude, {*path});
  constexpr size_t kMaxResults = 100000;
  size_t fetch = std::max<size_t>(limit * group_size * 2, 32);
  for (;;) {
    Query round = query;
    round.spec.limit = fetch;
    round.spec.offset = 0;
    round.projection = {};
    round.projection.payload = [&only_key](const rapidjson::Value& in, rapidjson::Value& out,
                                           rapidjson::Document::AllocatorType& a) {
      only_key.Apply(in, out, a);
    };
    Result<RecordBatch> ranked = Run(collection, std::move(round));
    if (!ranked.ok()) return ranked.status();
    groups.clear();
    std::unordered_map<std::string, size_t> index_of;
    for (const PointRecord& r : ranked->points) {
      if (!r.has_payload) continue;
      for (GroupKey& key : KeysOf(r.payload, *path)) {
        const std::string text = Text(key);
        auto it = index_of.find(text);
        if (it == index_of.end()) {
          if (groups.size() == limit) continue;
          it = index_of.emplace(text, groups.size()).first;
          groups.push_back(Building{std::move(key), {}});
        }
        std::vector<Hit>& hits = groups[it->second].hits;
        if (hits.size() < group_size) hits.push_back(Hit{r.id, r.score, r.version});
      }
    }
    const bool full = groups.size() == limit &&
                      std::all_of(groups.begin(), groups.end(),
                                  [&](const Building& g) { return g.hits.size() == group_size; });
    if (full || ranked->points.size() < fetch || fetch >= kMaxResults) break;
    fetch = std::min(fetch * 4, kMaxResults);
  }

  // The hits' records, with what the query projects.
  Groups out;
  std::vector<PointId> ids;
  for (const Building& g : groups) {
    for (const Hit& h : g.hits) ids.push_back(h.id);
  }
  std::unordered_map<PointId, size_t, segment::PointIdHash> at;
  RecordBatch records;
  if (!ids.empty() && (wanted.payload || wanted.any_vectors())) {
    Result<RecordBatch> read = collection.Retrieve(ids, wanted, query.consistency);
    if (!read.ok()) return read.status();
    records = std::move(*read);
    for (size_t i = 0; i < records.points.size(); ++i) at.emplace(records.points[i].id, i);
  }
  out.records.arena = records.arena;
  for (const Building& g : groups) {
    Groups::Group group;
    group.id = g.id;
    for (const Hit& h : g.hits) {
      PointRecord r;
      if (auto it = at.find(h.id); it != at.end()) {
        // A point in two groups (an array value) is copied, not moved, for the second.
        PointRecord& source = records.points[it->second];
        r.id = source.id;
        r.version = source.version;
        r.has_payload = source.has_payload;
        if (source.has_payload) r.payload.CopyFrom(source.payload, out.records.Allocator());
        r.has_vectors = source.has_vectors;
        r.vectors = source.vectors;
      } else if (wanted.payload || wanted.any_vectors()) {
        continue;  // deleted since it was ranked
      } else {
        r.id = h.id;
        r.version = h.version;
      }
      r.score = h.score;
      group.hits.push_back(out.records.points.size());
      out.records.points.push_back(std::move(r));
    }
    if (!group.hits.empty()) out.groups.push_back(std::move(group));
  }
  return out;
}

Status LookupGroups(Groups& groups, const collection::Collection& from,
                    const segment::Projection& projection,
                    const collection::ReadConsistency& consistency) {
  std::vector<PointId> ids;
  std::vector<std::optional<PointId>> id_of(groups.groups.size());
  for (size_t i = 0; i < groups.groups.size(); ++i) {
    const GroupKey& key = groups.groups[i].id;
    if (key.kind == GroupKey::Kind::kUnsigned) {
      id_of[i] = PointId::Num(key.unsigned_value);
    } else if (key.kind == GroupKey::Kind::kString) {
      Result<PointId> uuid = PointId::ParseUuid(key.string_value);
      if (uuid.ok()) id_of[i] = *uuid;
    }
    if (id_of[i]) ids.push_back(*id_of[i]);
  }
  if (ids.empty()) return Status::Ok();
  Result<RecordBatch> found = from.Retrieve(ids, projection, consistency);
  if (!found.ok()) return found.status();
  groups.lookups = std::move(*found);
  std::unordered_map<PointId, size_t, segment::PointIdHash> at;
  for (size_t i = 0; i < groups.lookups.points.size(); ++i)
    at.emplace(groups.lookups.points[i].id, i);
  for (size_t i = 0; i < groups.groups.size(); ++i) {
    if (!id_of[i]) continue;
    if (auto it = at.find(*id_of[i]); it != at.end()) groups.groups[i].lookup = it->second;
  }
  return Status::Ok();
}

}  // namespace qd::router
