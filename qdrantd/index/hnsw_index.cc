#include "qdrantd/index/hnsw_index.h"

#include <fcntl.h>
#include <hnswlib/hnswlib.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "qdrantd/index/distance.h"
#include "qdrantd/index/kernel_space.h"

namespace qd::index {
namespace {

using tableint = hnswlib::tableint;
using linklistsizeint = hnswlib::linklistsizeint;

// Spaces over our distance kernels: the best SIMD this CPU has, where hnswlib's own spaces are
// fixed to what the build's flags allowed (SSE for a portable build).
std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(const HnswIndex::Params& p) {
  const DistanceKernels& k = BestDistanceKernels();
  switch (p.distance) {
    case Distance::kCosine:  // vectors normalised on the way in: 1 - dot
    case Distance::kDot:
      return std::make_unique<KernelSpace>(p.dim, k.inner_product);
    case Distance::kEuclid:
      return std::make_unique<KernelSpace>(p.dim, k.l2_squared);
    case Distance::kManhattan:
      return std::make_unique<KernelSpace>(p.dim, k.manhattan);
  }
  return nullptr;
}

constexpr tableint kAbsent = static_cast<tableint>(-1);

// hnswlib keeps its own label -> internal id map (label_lookup_, an unordered_map node of ~32
// bytes per point plus its buckets) only to find labels already present; internal_of answers
// that for us, so the copy is emptied after every insert and after a load.
void DropLabelLookup(hnswlib::HierarchicalNSW<float>& h) {
  std::unordered_map<hnswlib::labeltype, tableint>().swap(h.label_lookup_);
}

// hnswlib allocates and writes 65,536 update locks per index (40 bytes each, 2.5 MiB even for an
// empty one), yet only ever locks the one at `internal id & 65535`, and internal ids stay below
// the capacity: an index of capacity c needs min(c, 65,536) of them. A new or loaded index keeps
// that many, so an empty collection's shard costs kilobytes instead of 2.5 MiB a vector.
// Callers keep Add out: resize_mu held exclusively, or the index not shared yet.
size_t UpdateLocksNeeded(const hnswlib::HierarchicalNSW<float>& h) {
  return std::min<size_t>(h.max_elements_, hnswlib::HierarchicalNSW<float>::max_update_element_locks);
}
void ShrinkUpdateLocks(hnswlib::HierarchicalNSW<float>& h) {
  if (h.link_list_update_locks_.size() > UpdateLocksNeeded(h)) {
    std::vector<std::mutex>(UpdateLocksNeeded(h)).swap(h.link_list_update_locks_);
  }
}
// An index that outgrows them gets all 65,536 at once: growing them with every resize left
// pieces of the old arrays resident in malloc's arenas after the collection was deleted (9.9
// against 8.9 MiB of private memory after deleting 30,000 points).
void GrowUpdateLocks(hnswlib::HierarchicalNSW<float>& h) {
  if (h.link_list_update_locks_.size() < UpdateLocksNeeded(h)) {
    std::vector<std::mutex>(hnswlib::HierarchicalNSW<float>::max_update_element_locks)
        .swap(h.link_list_update_locks_);
  }
}

// After ShrinkUpdateLocks gave back hnswlib's full set of update locks. Once glibc has raised
// its mmap threshold (any big block freed does that), those 2.5 MiB were written inside an arena,
// and the allocations after them leave the hole in pieces that stay resident: 16 empty indexes
// kept ~10 MiB that way. Indexes are created and loaded rarely enough for a trim each.
void ReturnFreedPages() { malloc_trim(0); }

// A binary heap (std::priority_queue's operations) over borrowed storage, emptied on entry, so
// a thread's searches reuse one allocation. Storage a filtered search grew past kKeep entries is
// given back rather than held by the thread for good.
template <typename T, typename Compare>
class Heap {
 public:
  static constexpr size_t kKeep = 1 << 16;
  explicit Heap(std::vector<T>& storage) : v_(storage) { v_.clear(); }
  ~Heap() {
    if (v_.capacity() > kKeep) std::vector<T>().swap(v_);
  }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;
  bool empty() const { return v_.empty(); }
  size_t size() const { return v_.size(); }
  const T& top() const { return v_.front(); }
  void emplace(float distance, tableint node) {
    v_.emplace_back(distance, node);
    std::push_heap(v_.begin(), v_.end(), Compare());
  }
  void pop() {
    std::pop_heap(v_.begin(), v_.end(), Compare());
    v_.pop_back();
  }

 private:
  std::vector<T>& v_;
};

}  // namespace

struct HnswIndex::Impl {
  Params params;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  // Reserve (resizes move hnswlib's memory) is exclusive; Add, Search and reads are shared.
  mutable std::shared_mutex resize_mu;
  // label -> hnswlib internal id; kAbsent when the label has no vector. Written by Add under
  // labels_mu (Add may run on two threads), read under it too.
  mutable std::shared_mutex labels_mu;
  std::vector<tableint> internal_of;
  // internal id -> label, hnswlib's capacity long (resized only under resize_mu exclusive) and
  // written by Add under labels_mu: what an unlocked search (no writer running) reads instead
  // of the label stored after each vector in hnswlib's memory, a cache miss per candidate.
  std::vector<uint32_t> label_of;

  tableint InternalOf(uint32_t label) const {
    std::shared_lock<std::shared_mutex> lock(labels_mu);
    return label < internal_of.size() ? internal_of[label] : kAbsent;
  }

  // The WriteScope gate (see the header): `writers` counts inserts running or about to, and
  // `unlocked_readers` the searches reading lists without node locks. Both sides use seq_cst
  // so that of a writer and a reader entering together at least one sees the other: the
  // reader falls back to locks, or the writer waits for it.
  mutable std::atomic<uint32_t> writers{0};
  mutable std::atomic<uint32_t> unlocked_readers{0};

  void EnterWrites() const {
    writers.fetch_add(1);
    while (unlocked_readers.load() != 0) std::this_thread::yield();
  }
  void ExitWrites() const { writers.fetch_sub(1); }
  bool TryUnlockedRead() const {
    if (writers.load() != 0) return false;
    unlocked_readers.fetch_add(1);
    if (writers.load() == 0) return true;
    unlocked_readers.fetch_sub(1);
    return false;
  }
  void EndUnlockedRead() const { unlocked_readers.fetch_sub(1); }

  // Neighbours of `node` at `level`, copied under the node's lock unless no writer can run
  // (hnswlib rewrites lists while it inserts; its own construction-time search locks too).
  void Neighbours(tableint node, int level, bool lock_nodes, std::vector<tableint>& out) const {
    std::unique_lock<std::mutex> lock(hnsw->link_list_locks_[node], std::defer_lock);
    if (lock_nodes) lock.lock();
    linklistsizeint* list =
        level == 0 ? hnsw->get_linklist0(node) : hnsw->get_linklist(node, level);
    size_t n = hnsw->getListCount(list);
    const tableint* data = reinterpret_cast<const tableint*>(list + 1);
    out.assign(data, data + n);
  }

  // Payload links (LinkGroup): internal id -> extra level-0 neighbours. Empty until the first
  // group is linked, then hnswlib's capacity long (grown under resize_mu exclusive). A list is
  // written under its node's lock inside a WriteScope and read as hnswlib's lists are.
  std::vector<std::vector<tableint>> extra;

  // WalkDistancesPerEf: an exponential moving average over unfiltered walks (weight 1/16 for
  // the newest), 0 until the first. Relaxed: a lost update only delays the average.
  mutable std::atomic<float> walk_distances_per_ef{0};

  void RecordWalk(size_t distances, size_t ef) const {
    const float sample = float(distances) / float(std::max<size_t>(ef, 1));
    const float old = walk_distances_per_ef.load(std::memory_order_relaxed);
    walk_distances_per_ef.store(old == 0 ? sample : old + (sample - old) / 16,
                                std::memory_order_relaxed);
  }

  float Dist(const float* q, tableint node) const {
    return hnsw->fstdistfunc_(q, hnsw->getDataByInternalId(node), hnsw->dist_func_param_);
  }
};

HnswIndex::HnswIndex(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HnswIndex::~HnswIndex() = default;

Result<std::unique_ptr<HnswIndex>> HnswIndex::Create(const Params& params, size_t capacity) {
  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->space = MakeSpace(params);
  try {
    impl->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        impl->space.get(), std::max<size_t>(capacity, 16), params.m, params.ef_construct);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot create HNSW index: ") + e.what());
  }
  ShrinkUpdateLocks(*impl->hnsw);
  ReturnFreedPages();
  impl->label_of.resize(impl->hnsw->max_elements_);
  return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::Load(const Params& params, const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->params = params;
  impl->space = MakeSpace(params);
  try {
    impl->hnsw = std::make_unique<hnswlib::HierarchicalNSW<float>>(impl->space.get(), path);
  } catch (const std::exception& e) {
    return Status::Internal("cannot load HNSW index " + path + ": " + e.what());
  }
  auto& h = *impl->hnsw;
  if (h.data_size_ != params.dim * sizeof(float)) {
    return Status::Internal("HNSW index " + path + " has another dimension");
  }
  impl->label_of.resize(h.max_elements_);
  for (tableint i = 0; i < h.cur_element_count; ++i) {
    hnswlib::labeltype label = h.getExternalLabel(i);
    if (label >= impl->internal_of.size()) impl->internal_of.resize(label + 1, kAbsent);
    impl->internal_of[label] = i;
    impl->label_of[i] = static_cast<uint32_t>(label);
  }
  DropLabelLookup(h);
  // The file keeps the capacity the index had when saved (up to a growth step above its size);
  // per-point locks are allocated for all of it, so load it at its size and grow on demand.
  try {
    size_t fit = std::max<size_t>(h.cur_element_count, 16);
    if (h.max_elements_ > fit) h.resizeIndex(fit);
  } catch (const std::exception& e) {
    return Status::Internal("cannot load HNSW index " + path + ": " + e.what());
  }
  ShrinkUpdateLocks(h);
  ReturnFreedPages();
  impl->label_of.resize(h.max_elements_);
  return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl)));
}

HnswIndex::WriteScope::WriteScope(const HnswIndex& index) : index_(index) { index_.impl_->EnterWrites(); }
HnswIndex::WriteScope::~WriteScope() { index_.impl_->ExitWrites(); }

Status HnswIndex::Reserve(size_t count) {
  std::unique_lock<std::shared_mutex> lock(impl_->resize_mu);
  auto& h = *impl_->hnsw;
  size_t needed = h.cur_element_count + count;
  if (needed <= h.max_elements_) return Status::Ok();
  // Growth doubles up to a million elements, then goes by quarters. A resize copies the level-0
  // memory (glibc's realloc moves blocks under its 32 MiB mmap threshold) while inserts wait:
  // in steps of a quarter, building 50k x 128 in batches of 256 spent 10-20% of its time there.
  // The spare capacity costs ~50 resident bytes per element (hnswlib's lock, level and visited
  // mark, our label), not its level-0 bytes, which stay untouched until used.
  const size_t step = h.max_elements_ < (size_t{1} << 20) ? h.max_elements_ : h.max_elements_ / 4;
  try {
    h.resizeIndex(std::max(needed, h.max_elements_ + step));
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot grow HNSW index: ") + e.what());
  }
  GrowUpdateLocks(h);
  if (!impl_->extra.empty()) impl_->extra.resize(h.max_elements_);
  std::unique_lock<std::shared_mutex> labels(impl_->labels_mu);
  impl_->label_of.resize(h.max_elements_);
  return Status::Ok();
}

std::vector<float> HnswIndex::PrepareQuery(const float* query) const {
  std::vector<float> v(query, query + impl_->params.dim);
  if (impl_->params.distance == Distance::kCosine) {
    double norm = 0;
    for (float x : v) norm += double(x) * x;
    norm = std::sqrt(norm);
    if (norm > 0) {
      for (float& x : v) x = static_cast<float>(x / norm);
    }
  }
  return v;
}

Status HnswIndex::Add(uint32_t label, const float* vector) {
  std::vector<float> v = PrepareQuery(vector);
  WriteScope writing(*this);
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  auto& h = *impl_->hnsw;
  tableint internal = impl_->InternalOf(label);
  try {
    if (internal != kAbsent) {
      // What hnswlib's addPoint does for a label it already holds, found through internal_of.
      std::unique_lock<std::mutex> update(
          h.link_list_update_locks_[internal & (h.max_update_element_locks - 1)]);
      if (h.isMarkedDeleted(internal)) h.unmarkDeletedInternal(internal);
      h.updatePoint(v.data(), internal, 1.0);
      return Status::Ok();
    }
    internal = h.addPoint(v.data(), label, -1);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("HNSW insert failed: ") + e.what());
  }
  {
    std::unique_lock<std::shared_mutex> labels(impl_->labels_mu);
    if (label >= impl_->internal_of.size()) impl_->internal_of.resize(label + 1, kAbsent);
    impl_->internal_of[label] = internal;
    impl_->label_of[internal] = label;
  }
  std::lock_guard<std::mutex> guard(h.cur_element_count_guard_);  // addPoint's lock of the map
  h.label_lookup_.erase(label);
  return Status::Ok();
}

bool HnswIndex::Contains(uint32_t label) const { return impl_->InternalOf(label) != kAbsent; }

bool HnswIndex::VectorOf(uint32_t label, std::vector<float>& out) const {
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  tableint internal = impl_->InternalOf(label);
  if (internal == kAbsent) return false;
  auto& h = *impl_->hnsw;
  // The element's update lock, which Add holds while updatePoint rewrites the vector in place:
  // without it a copy taken during an update (the optimizer's, a retrieve's) could be half old,
  // half new. (There are min(capacity, 65,536) locks and ids stay below the capacity.)
  std::lock_guard<std::mutex> update(
      h.link_list_update_locks_[internal & (h.max_update_element_locks - 1)]);
  const float* data = reinterpret_cast<const float*>(h.getDataByInternalId(internal));
  out.assign(data, data + impl_->params.dim);
  return true;
}

float HnswIndex::DistanceTo(const float* prepared_query, uint32_t label) const {
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  return impl_->Dist(prepared_query, impl_->InternalOf(label));
}

std::vector<float> HnswIndex::DistancesTo(const float* prepared_query,
                                         const std::vector<uint32_t>& labels) const {
  std::vector<float> out(labels.size());
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  std::shared_lock<std::shared_mutex> label_lock(impl_->labels_mu);
  for (size_t i = 0; i < labels.size(); ++i) {
    tableint internal = labels[i] < impl_->internal_of.size() ? impl_->internal_of[labels[i]] : kAbsent;
    out[i] = internal == kAbsent ? std::numeric_limits<float>::max() : impl_->Dist(prepared_query, internal);
  }
  return out;
}

std::vector<Hit> HnswIndex::Search(const float* query, size_t k, size_t ef, const Accept& accept,
                                   Walk* walk) const {
  std::vector<Hit> hits;
  if (k == 0) return hits;
  std::vector<float> q = PrepareQuery(query);
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  auto& h = *impl_->hnsw;  // hnswlib's accessors are not const; nothing here writes
  int max_level;
  tableint current;
  {
    std::unique_lock<std::mutex> guard(h.global);
    max_level = h.maxlevel_;
    current = h.enterpoint_node_;
  }
  if (max_level < 0) return hits;  // empty: the first insert sets both under `global`
  ef = std::max(ef, k);
  // Node locks only while an insert may run (WriteScope).
  const bool lock_nodes = !impl_->TryUnlockedRead();
  struct EndRead {
    const Impl* impl;
    bool unlocked;
    ~EndRead() {
      if (unlocked) impl->EndUnlockedRead();
    }
  } end_read{impl_.get(), !lock_nodes};

  std::vector<tableint> neighbours;
  size_t distances = 1;
  float current_dist = impl_->Dist(q.data(), current);
  for (int level = max_level; level > 0; --level) {
    bool changed = true;
    while (changed) {
      changed = false;
      impl_->Neighbours(current, level, lock_nodes, neighbours);
      distances += neighbours.size();
      for (tableint candidate : neighbours) {
        float d = impl_->Dist(q.data(), candidate);
        if (d < current_dist) {
          current_dist = d;
          current = candidate;
          changed = true;
        }
      }
    }
  }

  // Layer 0: best-first search that only counts accepted points towards ef. As in hnswlib's
  // searchBaseLayerST, the next neighbour's vector and visited mark are prefetched while the
  // current one is measured, and the best candidate's links (and lock) as soon as it is queued:
  // on a graph larger than the cache these misses, not the arithmetic, set the pace. While an
  // insert may run, a node's list is read under its lock, held while its neighbours are
  // measured (hnswlib's own insert path does the same), so an insert rewriting that list waits
  // for a microsecond at most.
  // Two heaps over this thread's reused storage (a priority_queue's vector grew from nothing
  // in every search: a dozen mallocs a query).
  using Pair = std::pair<float, tableint>;
  thread_local std::vector<Pair> top_storage, candidate_storage;
  Heap<Pair, std::less<Pair>> top(top_storage);                 // worst accepted on top
  Heap<Pair, std::greater<Pair>> candidates(candidate_storage);  // best first
  hnswlib::VisitedList* visited = h.visited_list_pool_->getFreeVisitedList();
  hnswlib::vl_type* mass = visited->mass;
  hnswlib::vl_type tag = visited->curV;
  const char* level0 = h.data_level0_memory_;
  const size_t stride = h.size_data_per_element_;
  const size_t data_offset = h.offsetData_;
  const uint32_t* label_of = lock_nodes ? nullptr : impl_->label_of.data();
  auto label = [&](tableint node) {
    return label_of ? label_of[node] : static_cast<uint32_t>(h.getExternalLabel(node));
  };
  // Counted for the planner's probe (Walk): tests and passes.
  size_t tested = 0, passed = 0;
  const size_t probe_after = walk ? walk->probe_after : 0;
  bool probing = probe_after > 0;
  auto accepted = [&](tableint node) {
    ++tested;
    const bool ok = accept(label(node));
    passed += ok;
    return ok;
  };
  bool abandoned = false;
  // The prefetches are written out where they happen: GCC 12 found a lambda holding only
  // prefetches free of side effects and dropped its calls, prefetches and all.

  // A walk within a payload group (Walk::within) measures and expands only the group's labels;
  // it starts from the upper layers' entry if that is in the group, and from the given seeds.
  const Accept* within = walk ? walk->within : nullptr;
  auto inside = [&](tableint node) { return !within || (*within)(label(node)); };
  float lower_bound = std::numeric_limits<float>::max();
  auto start = [&](tableint node, float d) {
    if (mass[node] == tag) return;
    mass[node] = tag;
    if (accepted(node)) {
      top.emplace(d, node);
      if (top.size() > ef) top.pop();
      lower_bound = top.top().first;
    }
    candidates.emplace(d, node);
  };
  if (inside(current)) start(current, current_dist);
  if (within) {
    for (uint32_t seed : walk->seeds) {
      const tableint node = impl_->InternalOf(seed);
      if (node == kAbsent || !inside(node)) continue;  // internal_of holds only added ids
      ++distances;
      start(node, impl_->Dist(q.data(), node));
    }
  }
  // Payload links of the node being expanded, appended to hnswlib's list (copied: both lists
  // are read under the node's lock while an insert may run). Only a walk within a group
  // follows them: elsewhere they would double the lists an unfiltered walk measures.
  thread_local std::vector<tableint> merged;
  const bool has_extra = within && !impl_->extra.empty();
  while (!candidates.empty()) {
    Pair best = candidates.top();
    if (best.first > lower_bound && top.size() >= ef) break;
    candidates.pop();
    std::unique_lock<std::mutex> node_lock(h.link_list_locks_[best.second], std::defer_lock);
    if (lock_nodes) node_lock.lock();
    linklistsizeint* list = h.get_linklist0(best.second);
    size_t n = h.getListCount(list);
    const tableint* links = reinterpret_cast<const tableint*>(list + 1);
    if (has_extra && !impl_->extra[best.second].empty()) {
      const std::vector<tableint>& more = impl_->extra[best.second];
      merged.assign(links, links + n);
      merged.insert(merged.end(), more.begin(), more.end());
      links = merged.data();
      n = merged.size();
    }
    if (n > 0) {
      __builtin_prefetch(mass + links[0]);
      __builtin_prefetch(level0 + links[0] * stride + data_offset);
    }
    if (probing && tested >= probe_after) {
      probing = false;
      if (!walk->keep_going(tested, passed)) {
        abandoned = true;
        break;
      }
    }
    for (size_t j = 0; j < n; ++j) {
      const tableint candidate = links[j];
      if (j + 1 < n) {
        __builtin_prefetch(mass + links[j + 1]);
        __builtin_prefetch(level0 + links[j + 1] * stride + data_offset);
      }
      if (mass[candidate] == tag) continue;
      mass[candidate] = tag;
      if (within && !inside(candidate)) continue;
      ++distances;
      float d = impl_->Dist(q.data(), candidate);
      if (top.size() < ef || d < lower_bound) {
        candidates.emplace(d, candidate);
        const tableint next = candidates.top().second;
        __builtin_prefetch(level0 + next * stride);
        if (lock_nodes) __builtin_prefetch(&h.link_list_locks_[next]);
        if (accepted(candidate)) {
          top.emplace(d, candidate);
          if (top.size() > ef) top.pop();
          lower_bound = top.top().first;
        }
      }
    }
  }
  h.visited_list_pool_->releaseVisitedList(visited);
  if (!accept.filter && !within && !abandoned) impl_->RecordWalk(distances, ef);
  if (walk) {
    walk->distances = distances;
    walk->tested = tested;
    walk->passed = passed;
    walk->abandoned = abandoned;
  }
  if (abandoned) return hits;

  hits.reserve(top.size());
  while (!top.empty()) {
    hits.push_back(Hit{top.top().first, label(top.top().second)});
    top.pop();
  }
  std::sort(hits.begin(), hits.end(), [](const Hit& a, const Hit& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.label < b.label;
  });
  if (hits.size() > k) hits.resize(k);
  return hits;
}

Status HnswIndex::LinkGroup(const std::vector<uint32_t>& labels, size_t m, size_t ef_construct) {
  if (labels.size() < 2 || m == 0) return Status::Ok();
  auto& h = *impl_->hnsw;
  {
    std::unique_lock<std::shared_mutex> resize(impl_->resize_mu);
    if (impl_->extra.size() < h.max_elements_) impl_->extra.resize(h.max_elements_);
  }
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  std::vector<tableint> ids;
  ids.reserve(labels.size());
  for (uint32_t label : labels) {
    const tableint id = impl_->InternalOf(label);
    if (id != kAbsent) ids.push_back(id);
  }
  if (ids.size() < 2) return Status::Ok();
  // The group's own layer 0: a throw-away hnswlib graph over copies of its vectors (hnswlib
  // cannot build over another's memory), labelled by position in `ids`; its level-0 lists
  // become the extra links. Copies cost the group's vectors once, freed on return.
  std::vector<std::pair<tableint, std::vector<tableint>>> links(ids.size());
  try {
    hnswlib::HierarchicalNSW<float> sub(impl_->space.get(), ids.size(), m, ef_construct);
    for (size_t i = 0; i < ids.size(); ++i) sub.addPoint(h.getDataByInternalId(ids[i]), i);
    for (tableint j = 0; j < sub.cur_element_count; ++j) {
      const size_t i = sub.getExternalLabel(j);
      linklistsizeint* list = sub.get_linklist0(j);
      const tableint* data = reinterpret_cast<const tableint*>(list + 1);
      links[i].first = ids[i];
      for (size_t k = 0; k < sub.getListCount(list); ++k) {
        links[i].second.push_back(ids[sub.getExternalLabel(data[k])]);
      }
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("cannot build payload links: ") + e.what());
  }
  WriteScope writing(*this);
  for (auto& [node, more] : links) {
    std::lock_guard<std::mutex> guard(h.link_list_locks_[node]);
    std::vector<tableint>& list = impl_->extra[node];
    for (tableint other : more) {
      if (std::find(list.begin(), list.end(), other) == list.end()) list.push_back(other);
    }
  }
  return Status::Ok();
}

void HnswIndex::LinkIntoGroup(uint32_t label, const Accept& group,
                              const std::vector<uint32_t>& seeds, size_t m, size_t ef_construct) {
  if (m == 0 || impl_->extra.empty()) return;
  std::vector<float> v;
  if (!VectorOf(label, v)) return;
  Walk walk;
  walk.within = &group;
  walk.seeds = seeds;
  std::vector<Hit> nearest = Search(v.data(), m + 1, std::max(ef_construct, m + 1), group, &walk);
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  auto& h = *impl_->hnsw;
  const tableint self = impl_->InternalOf(label);
  if (self == kAbsent || self >= impl_->extra.size()) return;
  std::vector<tableint> chosen;
  for (const Hit& hit : nearest) {
    const tableint other = impl_->InternalOf(hit.label);
    if (other != kAbsent && other != self && chosen.size() < m) chosen.push_back(other);
  }
  WriteScope writing(*this);
  // Both ways; a neighbour's list past 2m (per group it is in, as LinkGroup leaves it at most)
  // keeps its nearest, hnswlib's simple rule rather than its heuristic.
  auto link = [&](tableint from, tableint to) {
    std::lock_guard<std::mutex> guard(h.link_list_locks_[from]);
    std::vector<tableint>& list = impl_->extra[from];
    if (std::find(list.begin(), list.end(), to) != list.end()) return;
    list.push_back(to);
    if (list.size() <= 2 * m) return;
    const char* base = h.getDataByInternalId(from);
    auto dist = [&](tableint x) {
      return h.fstdistfunc_(base, h.getDataByInternalId(x), h.dist_func_param_);
    };
    auto farthest = std::max_element(list.begin(), list.end(),
                                     [&](tableint a, tableint b) { return dist(a) < dist(b); });
    list.erase(farthest);
  };
  for (tableint other : chosen) {
    link(self, other);
    link(other, self);
  }
}

void HnswIndex::ClearPayloadLinks() {
  std::unique_lock<std::shared_mutex> resize(impl_->resize_mu);
  std::vector<std::vector<tableint>>().swap(impl_->extra);
}

size_t HnswIndex::PayloadLinkCount() const {
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  size_t n = 0;
  for (const auto& list : impl_->extra) n += list.size();
  return n;
}

std::string HnswIndex::Image() const {
  std::string out;
  ImageInto(out);
  return out;
}

size_t HnswIndex::ImageSizeHint() const {
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  const size_t count = size();
  // A point has upper levels with probability 1/m (hnswlib's mult_ = 1/ln(m)): a 2/m share of
  // link lists is generous; 5% more for points added before the copy.
  const size_t links = h.size_links_per_element_ * 2 / std::max<size_t>(h.M_, 2);
  return (count * (h.size_data_per_element_ + sizeof(unsigned int) + links) + 4096) * 21 / 20;
}

void HnswIndex::ImageInto(std::string& out) const {
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  const hnswlib::HierarchicalNSW<float>& h = *impl_->hnsw;
  const size_t count = h.cur_element_count;
  size_t bytes = 0;
  auto pod_size = [&](const auto& v) { bytes += sizeof(v); };
  pod_size(h.offsetLevel0_), pod_size(h.max_elements_), pod_size(h.cur_element_count);
  pod_size(h.size_data_per_element_), pod_size(h.label_offset_), pod_size(h.offsetData_);
  pod_size(h.maxlevel_), pod_size(h.enterpoint_node_), pod_size(h.maxM_), pod_size(h.maxM0_);
  pod_size(h.M_), pod_size(h.mult_), pod_size(h.ef_construction_);
  bytes += count * h.size_data_per_element_;
  for (size_t i = 0; i < count; ++i) {
    bytes += sizeof(unsigned int) +
             (h.element_levels_[i] > 0 ? h.size_links_per_element_ * h.element_levels_[i] : 0);
  }
  if (out.size() < bytes) out.resize(bytes);
  char* at = out.data();
  auto put = [&](const void* p, size_t n) {
    std::memcpy(at, p, n);
    at += n;
  };
  // The fields, in saveIndex's order and sizes.
  auto pod = [&](const auto& v) { put(&v, sizeof(v)); };
  pod(h.offsetLevel0_), pod(h.max_elements_), pod(h.cur_element_count);
  pod(h.size_data_per_element_), pod(h.label_offset_), pod(h.offsetData_);
  pod(h.maxlevel_), pod(h.enterpoint_node_), pod(h.maxM_), pod(h.maxM0_);
  pod(h.M_), pod(h.mult_), pod(h.ef_construction_);
  put(h.data_level0_memory_, count * h.size_data_per_element_);
  for (size_t i = 0; i < count; ++i) {
    const unsigned int size =
        h.element_levels_[i] > 0 ? h.size_links_per_element_ * h.element_levels_[i] : 0;
    pod(size);
    if (size) put(h.linkLists_[i], size);
  }
  out.resize(bytes);  // shrinking keeps the buffer
}

Status HnswIndex::WriteImage(const std::string& image, int dir_fd, const std::string& name) {
  const std::string tmp = name + ".tmp";
  int fd = ::openat(dir_fd, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Internal("cannot create " + tmp + ": " + std::strerror(errno));
  // (Writing back a few MB at a time with sync_file_range, as RocksDB's bytes_per_sync, cut
  // the worst live write during a checkpoint from ~250 to ~150 ms but doubled the others' p50
  // meanwhile, and p99.9 over a run did not move: docs/benchmarks.md.)
  const char* at = image.data();
  size_t left = image.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, at, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      return Status::Internal("cannot write " + tmp + ": " + why);
    }
    at += n;
    left -= static_cast<size_t>(n);
  }
  // EINVAL: a file that cannot be synced (a FIFO in a test); a regular file never says it.
  const bool synced = ::fsync(fd) == 0 || errno == EINVAL;
  ::close(fd);
  if (!synced) return Status::Internal("cannot sync " + tmp + ": " + std::strerror(errno));
  if (::renameat(dir_fd, tmp.c_str(), dir_fd, name.c_str()) != 0) {
    return Status::Internal("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status HnswIndex::Save(const std::string& path) const {
  // Shared: searches go on while the file is written (an exclusive lock held them for the whole
  // save, 0.7 s at 300k points). Adds cannot run: the segment's writer is the caller.
  std::shared_lock<std::shared_mutex> lock(impl_->resize_mu);
  try {
    impl_->hnsw->saveIndex(path);
  } catch (const std::exception& e) {
    return Status::Internal("cannot save HNSW index " + path + ": " + e.what());
  }
  return Status::Ok();
}

size_t HnswIndex::size() const {
  std::lock_guard<std::mutex> guard(impl_->hnsw->cur_element_count_guard_);  // addPoint writes it
  return impl_->hnsw->cur_element_count;
}
const HnswIndex::Params& HnswIndex::params() const { return impl_->params; }

double HnswIndex::WalkDistancesPerEf() const {
  return impl_->walk_distances_per_ef.load(std::memory_order_relaxed);
}

float HnswIndex::Score(Distance distance, float hit_distance) {
  switch (distance) {
    case Distance::kCosine:
    case Distance::kDot:
      return 1.0f - hit_distance;  // hnswlib's inner-product "distance" is 1 - dot
    case Distance::kEuclid:
      return std::sqrt(std::max(0.0f, hit_distance));
    case Distance::kManhattan:
      return hit_distance;
  }
  return hit_distance;
}

}  // namespace qd::index
