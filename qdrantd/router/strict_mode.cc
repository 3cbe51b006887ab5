#include "qdrantd/router/strict_mode.h"

namespace qd::router {
namespace {

using collection::CheckLimit;
using collection::StrictMode;

struct Checker {
  const StrictMode& mode;
  const collection::Collection::StrictIndexes& indexed;

  Status Filter(const segment::PointFilter& filter) const {
    if (!filter) return Status::Ok();
    StrictMode checked = mode;
    if (!indexed.known) checked.unindexed_filtering_retrieve.reset();
    return collection::CheckFilter(checked, *filter.filter, indexed.fields, false);
  }

  Status Query(const router::Query& q) const {
    if (Status s = CheckLimit(uint64_t{q.spec.limit}, mode.max_query_limit, "limit"); !s.ok()) {
      return s;
    }
    if (q.spec.ef != 0) {
      if (Status s = CheckLimit(uint64_t{q.spec.ef}, mode.search_max_hnsw_ef, "hnsw_ef"); !s.ok()) {
        return s;
      }
    }
    if (q.spec.exact && mode.search_allow_exact == false) {
      return collection::StrictModeError("Exact search disabled!", "Set exact=false.");
    }
    if (Status s = Filter(q.filter); !s.ok()) return s;
    for (const router::Query& p : q.prefetch) {
      if (Status s = Query(p); !s.ok()) return s;
    }
    return Status::Ok();
  }
};

// Tells the collection about each filter of the query tree (its issues).
void NoteFilters(const collection::Collection& collection, const router::Query& q) {
  collection.NoteFilteredRead(q.filter);
  for (const router::Query& p : q.prefetch) NoteFilters(collection, p);
}

}  // namespace

Status CheckRead(const collection::Collection& collection, const ReadCheck& check) {
  for (const Query* q : check.queries) NoteFilters(collection, *q);
  for (const segment::PointFilter* f : check.filters) collection.NoteFilteredRead(*f);
  if (!collection.strict_mode_enabled()) return Status::Ok();
  std::shared_ptr<const StrictMode> mode = collection.strict_mode();
  if (!mode->enabled) return Status::Ok();
  if (check.timeout) {
    if (Status s = CheckLimit(*check.timeout, mode->max_timeout, "timeout"); !s.ok()) return s;
  }
  if (check.batch) {
    if (Status s = CheckLimit(uint64_t{check.searches}, mode->search_max_batchsize, "batch size");
        !s.ok()) {
      return s;
    }
  }
  for (const auto& [name, value] : check.limits) {
    if (Status s = CheckLimit(value, mode->max_query_limit, name); !s.ok()) return s;
  }
  const bool filters = !check.filters.empty() || !check.queries.empty();
  collection::Collection::StrictIndexes indexed;
  if (filters && mode->RefusesUnindexed(false)) indexed = collection.IndexedForStrictMode();
  Checker checker{*mode, indexed};
  for (const Query* q : check.queries) {
    if (Status s = checker.Query(*q); !s.ok()) return s;
  }
  for (const segment::PointFilter* f : check.filters) {
    if (Status s = checker.Filter(*f); !s.ok()) return s;
  }
  return collection.TakeReadTokens(check.searches);
}

}  // namespace qd::router
