// HnswIndex: one dense vector space of one segment, over hnswlib 0.6.2 (kept out of this header:
// hnswlib defines non-inline functions and is heavy). Points are addressed by `label`, the
// segment's dense offset of the point; a label that is not accepted by the caller's predicate
// (deleted, filtered out, vector removed) is still used for graph traversal but never returned.
//
// hnswlib has no filter hook, so Search() is our own traversal over its public graph: the
// greedy descent through the upper layers, then a best-first search of layer 0 that keeps going
// until `ef` *accepted* points are found (hnswlib's own deleted-points mode), so a restrictive
// filter still yields `k` results when that many exist. Neighbour lists are read under
// hnswlib's per-node lock, so searches may run while points are being added.
//
// Scores: Dot and Cosine are similarities (higher is better; Cosine vectors are normalised on
// the way in), Euclid and Manhattan are distances (lower is better). `Hit::distance` is always
// "lower is better"; Score() turns it into what Qdrant reports.
// Thread: Add/Search/VectorOf from any thread concurrently; Reserve and Save need no concurrent
// Add (the segment's single writer calls them).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "libshared/status.h"

namespace qd::index {

enum class Distance { kCosine, kEuclid, kDot, kManhattan };

struct Hit {
  float distance;  // lower is better
  uint32_t label;
};

class HnswIndex {
 public:
  struct Params {
    uint32_t dim = 0;
    Distance distance = Distance::kCosine;
    size_t m = 16;
    size_t ef_construct = 100;
  };

  static Result<std::unique_ptr<HnswIndex>> Create(const Params& params, size_t capacity);
  // Loads a file written by Save() for the same params. Errors: kInternal (missing, corrupt).
  static Result<std::unique_ptr<HnswIndex>> Load(const Params& params, const std::string& path);
  ~HnswIndex();

  // Holds every search to hnswlib's per-node locks while a batch of Add()s runs. Without a
  // writer, searches read neighbour lists unlocked (hnswlib's own searchKnn never locks, but it
  // races with inserts); a writer first waits for the unlocked searches in flight to finish (at
  // most one search long), and searches that start meanwhile take the locks instead of waiting.
  // Add() enters it on its own; hold one around a batch so searches do not flip back and forth.
  class WriteScope {
   public:
    explicit WriteScope(const HnswIndex& index);
    ~WriteScope();
    WriteScope(const WriteScope&) = delete;
    WriteScope& operator=(const WriteScope&) = delete;

   private:
    const HnswIndex& index_;
  };

  // Makes room for `count` more labels. Must not run concurrently with Add().
  Status Reserve(size_t count);
  // Adds the vector of `label` or replaces it. Normalises for Cosine. Thread-safe for distinct
  // labels; one label must not be added on two threads at once.
  Status Add(uint32_t label, const float* vector);
  bool Contains(uint32_t label) const;
  // Copies the stored (normalised) vector of label; false if absent.
  bool VectorOf(uint32_t label, std::vector<float>& out) const;

  // Which labels a search may return: those whose bit is set in `words` (the caller's
  // visibility bitset, bit `label % 64` of word `label / 64`; labels at or past `size` are not
  // visible) and, when `filter` is set, that it accepts. The bitset is read inline: the walk
  // asks for thousands of labels per query, and only a filtered search pays for a call.
  struct Accept {
    const uint64_t* words = nullptr;
    size_t size = 0;
    const std::function<bool(uint32_t)>* filter = nullptr;

    bool operator()(uint32_t label) const {
      return label < size && (words[label >> 6] >> (label & 63) & 1) && (!filter || (*filter)(label));
    }
  };

  // What a walk measured of itself, and an optional check part way (the planner's probe,
  // index/search_planner.h): once `probe_after` labels were tested against the Accept,
  // `keep_going(tested, passed)` says whether to go on; when it says no, Search stops at once,
  // returns no hits and sets `abandoned`. A label is tested when the walk first reaches it while
  // it still holds fewer than ef accepted labels, or when it would enter the results.
  // `within`, when set, restricts the walk to the labels it accepts (a payload group with
  // payload links, see LinkGroup): others are neither measured nor expanded. The walk then
  // starts from the upper layers' entry (if within) and from `seeds`, labels of the group.
  struct Walk {
    size_t probe_after = 0;  // 0: no probe
    std::function<bool(size_t tested, size_t passed)> keep_going;
    const Accept* within = nullptr;
    std::vector<uint32_t> seeds;
    size_t distances = 0;  // distances computed, upper layers included
    size_t tested = 0, passed = 0;
    bool abandoned = false;
  };

  // The k best accepted labels by distance, best first (ties by label). `walk`, when given,
  // receives the walk's figures and may carry a probe.
  std::vector<Hit> Search(const float* query, size_t k, size_t ef, const Accept& accept,
                          Walk* walk = nullptr) const;
  // Distances per unit of ef that unfiltered walks of this index computed lately (a moving
  // average over searches), or 0 before the first: the graph's shape as the planner needs it.
  double WalkDistancesPerEf() const;
  // Distance between the query (already prepared) and a stored label; label must be present.
  float DistanceTo(const float* prepared_query, uint32_t label) const;
  // Distances to many present labels under one lock (exact search).
  std::vector<float> DistancesTo(const float* prepared_query, const std::vector<uint32_t>& labels) const;
  // Cosine queries must be normalised like stored vectors; others are copied as they are.
  std::vector<float> PrepareQuery(const float* query) const;

  // Payload-aware links (issue #22; Qdrant's hnsw_config.payload_m). hnswlib's level 0 links
  // each point to its nearest points overall; a filter on one payload value then reaches its
  // points only through others. These are extra level-0 links among the points of one value
  // (a *group*), kept beside hnswlib's lists, so that a walk restricted to the group (Walk::
  // within) stays connected. A label's extra links are the union over its groups.
  //
  // Links `labels` (present, distinct) as a layer 0 of their own, built like an HNSW graph
  // with `m` links a point (2m at most, hnswlib's level-0 rule) and ef_construct; a group's
  // links are built once, when its size first passes the planner's threshold.
  // Errors: kInternal (hnswlib failed to build).
  Status LinkGroup(const std::vector<uint32_t>& labels, size_t m, size_t ef_construct);
  // Links one more point of a linked group: its m nearest in the group, found by a walk within
  // it (`group` accepts the group's labels; `seeds`: a few of them), each linked both ways (a
  // list past 2m drops its farthest).
  void LinkIntoGroup(uint32_t label, const Accept& group, const std::vector<uint32_t>& seeds,
                     size_t m, size_t ef_construct);
  // Drops every extra link (payload indexes dropped, payload_m changed).
  void ClearPayloadLinks();
  // Extra links held, for tests and memory figures.
  size_t PayloadLinkCount() const;

  Status Save(const std::string& path) const;
  // Save in two halves, so that a checkpoint holds the segment's writer only for a copy in
  // memory: Image() is the bytes Save writes (hnswlib's saveIndex format), copied at memcpy
  // speed (no concurrent Add, as Save); WriteImage writes them to `name` in the directory open
  // as `dir_fd` (openat: a directory renamed meanwhile is still the one written) and fsyncs.
  // ImageInto copies into `out`, which a caller may size beforehand (ImageSizeHint, outside
  // its lock) so that the copy does not fault its pages in while writes wait; grown if short.
  std::string Image() const;
  void ImageInto(std::string& out) const;
  size_t ImageSizeHint() const;
  static Status WriteImage(const std::string& image, int dir_fd, const std::string& name);
  size_t size() const;  // labels ever added
  const Params& params() const;

  // The score Qdrant reports for a distance of this space.
  static float Score(Distance distance, float hit_distance);

 private:
  struct Impl;
  explicit HnswIndex(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qd::index
