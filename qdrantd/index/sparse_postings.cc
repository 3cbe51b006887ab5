#include "qdrantd/index/sparse_postings.h"

namespace qd::index {

uint32_t SparsePostings::Bump(uint32_t offset) {
  if (offset >= generation_.size()) {
    generation_.resize(offset + 1, 0);
    dimensions_.resize(offset + 1, 0);
  }
  live_ -= dimensions_[offset];
  dimensions_[offset] = 0;
  return ++generation_[offset];
}

void SparsePostings::Set(uint32_t offset, const std::vector<uint32_t>& dimensions,
                         const std::vector<float>& values) {
  const uint32_t generation = Bump(offset);
  for (size_t i = 0; i < dimensions.size() && i < values.size(); ++i) {
    lists_[dimensions[i]].push_back(Entry{offset, generation, values[i]});
  }
  dimensions_[offset] = static_cast<uint32_t>(dimensions.size());
  entries_ += dimensions.size();
  live_ += dimensions.size();
}

void SparsePostings::Remove(uint32_t offset) {
  if (offset < generation_.size()) Bump(offset);
}

void SparsePostings::Compact() {
  lists_.clear();
  entries_ = 0;
}

std::vector<std::pair<float, uint32_t>> SparsePostings::Score(
    const std::vector<uint32_t>& dimensions, const std::vector<float>& values) const {
  // Sums by offset, in storage reused by the thread's next search; `touched` lists the offsets
  // summed so far, which are all that need zeroing after.
  thread_local std::vector<float> sums;
  thread_local std::vector<uint8_t> seen;
  if (sums.size() < generation_.size()) {
    sums.resize(generation_.size(), 0.0f);
    seen.resize(generation_.size(), 0);
  }
  std::vector<uint32_t> touched;
  for (size_t d = 0; d < dimensions.size() && d < values.size(); ++d) {
    auto it = lists_.find(dimensions[d]);
    if (it == lists_.end()) continue;
    const float q = values[d];
    for (const Entry& e : it->second) {
      if (generation_[e.offset] != e.generation) continue;  // an earlier vector's
      if (!seen[e.offset]) {
        seen[e.offset] = 1;
        touched.push_back(e.offset);
      }
      sums[e.offset] += q * e.value;
    }
  }
  std::vector<std::pair<float, uint32_t>> out;
  out.reserve(touched.size());
  for (uint32_t offset : touched) {
    out.emplace_back(sums[offset], offset);
    sums[offset] = 0.0f;
    seen[offset] = 0;
  }
  return out;
}

}  // namespace qd::index
