// SparsePostings: the inverted index of one sparse vector spec, so a sparse search reads only
// the points that share a dimension with the query instead of every point (issue #21: the
// sparse prefetch of a hybrid query was a scan of the whole segment).
//
// For each dimension (a token, for text), the entries (offset, generation, value) of the points
// whose vector had it when it was written. The lists only grow. Each write or removal of a
// point's vector bumps the generation of its offset, so the entries of earlier vectors are
// stale, and a search skips every entry whose generation is not its offset's current one.
// Compact() drops stale entries once they outnumber the live ones.
//
// A search accumulates dot products term at a time over the lists, which hold the values: the
// points themselves are never read, and a dimension most points have costs one pass over a
// contiguous list. Thread: none of its own; the segment's lock guards it (Score is const).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace qd::index {

class SparsePostings {
 public:
  // The point at `offset` now has this vector (dimensions ascending, one value each), in place
  // of whatever it had.
  void Set(uint32_t offset, const std::vector<uint32_t>& dimensions,
           const std::vector<float>& values);
  // The point at `offset` no longer has a vector (deleted, or the vector removed).
  void Remove(uint32_t offset);
  // Stale entries outnumber live ones (past a floor, so small segments never bother).
  bool NeedsCompaction() const { return entries_ > 2 * live_ + 4096; }
  // Drops every entry; `Set` the live vectors again after it.
  void Compact();

  // (dot product with the query, offset) of every point whose vector shares a dimension with
  // the query, in no order. The query's dimensions ascending, as the dot product of two sorted
  // vectors sums them (so the scores equal that product's exactly).
  std::vector<std::pair<float, uint32_t>> Score(const std::vector<uint32_t>& dimensions,
                                                const std::vector<float>& values) const;

  size_t entries() const { return entries_; }

 private:
  struct Entry {
    uint32_t offset;
    uint32_t generation;
    float value;
  };
  uint32_t Bump(uint32_t offset);

  std::unordered_map<uint32_t, std::vector<Entry>> lists_;
  std::vector<uint32_t> generation_;  // by offset; an entry counts when it carries this one
  std::vector<uint32_t> dimensions_;  // by offset: how many entries its live vector has
  size_t entries_ = 0;                // in all lists, stale included
  size_t live_ = 0;                   // sum of dimensions_
};

}  // namespace qd::index
