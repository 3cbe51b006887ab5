#include "qdrantd/collection/collection.h"

#include <malloc.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <future>
#include <map>
#include <shared_mutex>
#include <thread>

#include "libshared/log.h"
#include "libshared/sqlite.h"
#include "qdrantd/collection/issues.h"
#include "qdrantd/collection/tar.h"

namespace qd::collection {

using segment::Operation;
using segment::OpKind;
using segment::PointId;
using segment::RecordBatch;

struct Collection::Acks {
  std::mutex mu;
  std::condition_variable cv;
  size_t pending = 0;                                 // Protected by mu
  size_t applied = 0;                                 // Protected by mu
  std::vector<std::pair<uint64_t, Status>> failures;  // Protected by mu

  void Done(uint64_t peer, const Status& s) {
    std::lock_guard<std::mutex> lock(mu);
    --pending;
    if (s.ok()) {
      ++applied;
    } else {
      failures.emplace_back(peer, s);
    }
    cv.notify_all();
  }
};

Collection::Collection(std::string name, std::string dir, CollectionConfig config,
                       std::shared_ptr<PeerLink> link, std::shared_ptr<UpdateLimiter> limiter)
    : name_(std::move(name)),
      dir_(std::move(dir)),
      config_(std::move(config)),
      layout_(std::make_shared<const Layout>()),
      link_(std::move(link)),
      limiter_(std::move(limiter)),
      ordering_mu_(new std::shared_timed_mutex[std::max<uint32_t>(1, config_.shard_number)]) {
  strict_.store(MakeStrict(config_, nullptr));
  strict_enabled_ = strict_.load()->mode->enabled;
}

std::shared_ptr<Collection::Strict> Collection::MakeStrict(
    const CollectionConfig& config, const std::shared_ptr<const Strict>& before) {
  auto out = std::make_shared<Strict>();
  out->mode = config.strict_mode ? config.strict_mode : std::make_shared<const StrictMode>();
  const StrictMode& m = *out->mode;
  // A limiter whose limit did not change keeps its tokens: a PATCH of another field must not
  // hand every client a fresh minute.
  auto limiter = [&](std::optional<uint64_t> StrictMode::*limit,
                     std::shared_ptr<RateLimiter> Strict::*field, const char* what) {
    if (!m.enabled || !(m.*limit)) return std::shared_ptr<RateLimiter>();
    if (before && (*before).*field && (*before->mode).*limit == m.*limit) return (*before).*field;
    return std::make_shared<RateLimiter>(*(m.*limit), what);
  };
  out->read = limiter(&StrictMode::read_rate_limit, &Strict::read, "Read");
  out->write = limiter(&StrictMode::write_rate_limit, &Strict::write, "Write");
  return out;
}

std::shared_ptr<const StrictMode> Collection::strict_mode() const { return strict_.load()->mode; }

Status Collection::TakeReadTokens(uint64_t cost) const {
  std::shared_ptr<Strict> strict = strict_.load();
  return strict->read ? strict->read->Take(cost) : Status::Ok();
}

Collection::StrictIndexes Collection::IndexedForStrictMode() const {
  StrictIndexes out;
  const std::shared_ptr<const Layout> held = layout();  // alive through the loop
  for (const auto& slot : held->local) {
    if (!slot) continue;
    out.known = true;
    for (const segment::Segment::FieldIndexInfo& info : slot->replica->segment().FieldIndexes()) {
      for (index::PayloadFieldType t :
           {index::PayloadFieldType::kKeyword, index::PayloadFieldType::kInteger,
            index::PayloadFieldType::kFloat, index::PayloadFieldType::kGeo,
            index::PayloadFieldType::kText, index::PayloadFieldType::kBool,
            index::PayloadFieldType::kDatetime, index::PayloadFieldType::kUuid}) {
        if (info.data_type == index::PayloadFieldTypeName(t)) out.fields.fields[info.field] = t;
      }
    }
    break;  // every replica has the same indexes
  }
  return out;
}

void Collection::NoteFilteredRead(const segment::PointFilter& filter) const {
  if (!filter) return;
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t last = issues_checked_ms_.load(std::memory_order_relaxed);
  if (now - last < 1000 || !issues_checked_ms_.compare_exchange_strong(last, now)) return;
  std::optional<size_t> points = EstimatedPoints();
  if (!points || *points < kIssueMinPoints) return;
  StrictIndexes indexed = IndexedForStrictMode();
  for (const UnindexedKey& u : UnindexedKeys(*filter.filter, indexed.fields)) {
    IssueLog::Global().Submit(UnindexedFieldIssue(
        name_, u.key, std::string(index::PayloadFieldTypeName(u.types.front()))));
  }
}

std::vector<Collection::ShardOptimizations> Collection::Optimizations() const {
  std::vector<ShardOptimizations> out;
  std::shared_ptr<const Layout> l = layout();
  for (size_t shard = 0; shard < l->local.size(); ++shard) {
    if (!l->local[shard]) continue;
    const replica::LocalReplica& r = *l->local[shard]->replica;
    out.push_back(ShardOptimizations{static_cast<uint32_t>(shard), r.segment_uuid(),
                                     r.segment().points_count(), r.NeedsOptimization(),
                                     r.Optimizations()});
  }
  return out;
}

std::optional<size_t> Collection::EstimatedPoints() const {
  std::shared_ptr<const Layout> l = layout();
  size_t points = 0, local = 0;
  for (const auto& slot : l->local) {
    if (!slot) continue;
    points += slot->replica->segment().points_count();
    ++local;
  }
  if (local == 0) return std::nullopt;
  if (local == l->local.size()) return points;
  return points * l->local.size() / local;
}

Status Collection::CheckStrictWrite(const UpdateRequest& request) const {
  if (!strict_mode_enabled()) return Status::Ok();
  std::shared_ptr<Strict> strict = strict_.load();
  const StrictMode& m = *strict->mode;
  if (!m.enabled) return Status::Ok();
  const Operation& op = request.op;
  const bool adds_vectors = op.kind == OpKind::kUpsert || op.kind == OpKind::kUpdateVectors;
  if (adds_vectors) {
    if (Status s = CheckLimit(op.points.size(), m.upsert_max_batchsize, "upsert limit"); !s.ok()) {
      return s;
    }
  }
  if (request.by_filter || request.update_filter) {
    StrictIndexes indexed = IndexedForStrictMode();
    StrictMode checked = m;
    if (!indexed.known) checked.unindexed_filtering_update.reset();
    for (const segment::PointFilter* f : {&request.filter, &request.update_filter}) {
      if (!*f) continue;
      if (Status s = CheckFilter(checked, *f->filter, indexed.fields, true); !s.ok()) return s;
    }
  }
  if (adds_vectors && !m.sparse_max_length.empty()) {
    for (const segment::PointStruct& p : op.points) {
      for (const auto& [name, v] : p.vectors) {
        auto it = m.sparse_max_length.find(name);
        if (!v.sparse || it == m.sparse_max_length.end()) continue;
        if (Status s =
                CheckLimit(v.indices.size(), it->second, "sparse vector \"" + name + "\" length");
            !s.ok()) {
          return s;
        }
      }
    }
  }
  if (op.kind == OpKind::kUpsert && (m.max_points_count || m.max_collection_vector_size_bytes)) {
    if (std::optional<size_t> points = EstimatedPoints()) {
      if (m.max_points_count && *points + op.points.size() > *m.max_points_count) {
        return StrictModeError(
            "Max points count limit of " + std::to_string(*m.max_points_count) + " reached",
            "Delete some points or raise max_points_count");
      }
      if (m.max_collection_vector_size_bytes) {
        size_t bytes_per_point = 0;
        for (const segment::VectorSpec& v : config().vectors) {
          if (!v.sparse) bytes_per_point += v.dim * sizeof(float);
        }
        if ((*points + op.points.size()) * bytes_per_point > *m.max_collection_vector_size_bytes) {
          return StrictModeError("Max vector storage size limit of " +
                                     std::to_string(*m.max_collection_vector_size_bytes) +
                                     " bytes reached",
                                 "Delete some points or raise max_collection_vector_size_bytes");
        }
      }
    }
  }
  if (op.kind == OpKind::kCreateFieldIndex && m.max_payload_index_count) {
    StrictIndexes indexed = IndexedForStrictMode();
    std::string field = op.field_name;
    if (Result<index::JsonPath> path = index::ParseJsonPath(field); path.ok()) {
      field = path->ToString();
    }
    if (indexed.known && !indexed.fields.fields.contains(field) &&
        indexed.fields.fields.size() >= *m.max_payload_index_count) {
      return StrictModeError("Collection already has the maximum number of payload indexes (" +
                                 std::to_string(*m.max_payload_index_count) + ")",
                             "Delete an unused payload index or raise max_payload_index_count");
    }
  }
  if (strict->write) {
    const uint64_t cost = std::max<uint64_t>(1, op.points.size() + op.ids.size());
    if (Status s = strict->write->Take(cost); !s.ok()) return s;
  }
  return Status::Ok();
}

std::shared_timed_mutex& Collection::OrderingMutex(uint32_t shard) {
  // The shard count is fixed for a collection's life (no resharding); any other id is a bug
  // upstream, kept safe by sharing the last mutex.
  const uint32_t shards = std::max<uint32_t>(1, config().shard_number);
  return ordering_mu_[std::min(shard, shards - 1)];
}

Collection::Slot::~Slot() {
  replica.reset();  // flushes (unless abandoned) and closes first
  if (trash.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(trash, ec);
  if (ec) QD_LOG_WARN("cannot remove " + trash + ": " + ec.message());
}

Collection::~Collection() {
  layout_.store(nullptr);  // flushes and closes the replicas first
  if (dropped_) {
    std::error_code ec;
    std::filesystem::remove_all(dropped_dir_, ec);
    if (ec) QD_LOG_WARN("cannot remove " + dropped_dir_ + ": " + ec.message());
    // Its graph and points were freed just now, much of it into malloc's arenas (after glibc
    // raises its mmap threshold, even the big blocks land there), which keep it resident until
    // a trim: without this one a deleted collection's memory came back only at the next index
    // checkpoint, up to a minute later.
    malloc_trim(0);
  }
}

void Collection::MarkDropped(std::string dir) {
  dropped_dir_ = std::move(dir);
  dropped_ = true;
  IssueLog::Global().Resolve("UNINDEXED_FIELD/" + name_ + "/");
  const std::shared_ptr<const Layout> held = layout();  // alive through the loop
  for (const auto& slot : held->local) {
    if (slot) slot->replica->Abandon();
  }
}

Result<std::shared_ptr<Collection::Slot>> Collection::OpenSlot(uint32_t shard) const {
  CollectionConfig c = config();
  Result<std::unique_ptr<replica::LocalReplica>> r = replica::LocalReplica::Open(
      ShardDir(shard), c.vectors,
      {c.deleted_threshold, c.vacuum_min_vector_number, c.wal_capacity_mb << 20});
  if (!r.ok()) return r.status();
  auto slot = std::make_shared<Slot>();
  slot->replica = std::move(*r);
  return slot;
}

Result<std::shared_ptr<Collection>> Collection::Open(std::string name, std::string dir,
                                                     CollectionConfig config) {
  std::shared_ptr<Collection> c(new Collection(std::move(name), std::move(dir), config));
  auto layout = std::make_shared<Layout>();
  layout->others.resize(config.shard_number);
  layout->transfers.resize(config.shard_number);
  layout->lost.resize(config.shard_number, false);
  layout->local_state.resize(config.shard_number, shard::ReplicaState::kActive);
  for (uint32_t shard = 0; shard < config.shard_number; ++shard) {
    Result<std::shared_ptr<Slot>> slot = c->OpenSlot(shard);
    if (!slot.ok()) return slot.status();
    layout->local.push_back(std::move(*slot));
  }
  c->layout_.store(std::move(layout));
  return c;
}

Result<std::shared_ptr<Collection>> Collection::OpenPlaced(std::string name, std::string dir,
                                                           CollectionConfig config,
                                                           const ShardPlacement* placement,
                                                           std::shared_ptr<PeerLink> link,
                                                           std::shared_ptr<UpdateLimiter> limiter) {
  std::shared_ptr<Collection> c(new Collection(std::move(name), std::move(dir), config,
                                               std::move(link), std::move(limiter)));
  std::error_code ec;
  // Replicas dropped before a crash, whose files were still in use.
  for (const auto& e : std::filesystem::directory_iterator(c->dir_, ec)) {
    const std::string file = e.path().filename().string();
    // Also what snapshot transfers staged (their sessions ended with the process).
    if (file.starts_with(".deleted-") || file.starts_with(".transfer-")) {
      std::filesystem::remove_all(e.path(), ec);
    }
  }
  if (placement) {
    Status s = c->ApplyPlacement(*placement, false);
    if (!s.ok()) return s;
    return c;
  }
  // Restart: the replicas this node held are the directories it has; which shards are placed
  // where is known once the reconciler applies the replayed state.
  auto layout = std::make_shared<Layout>();
  layout->placed = true;
  layout->known = false;
  layout->local.resize(config.shard_number);
  layout->local_state.resize(config.shard_number, shard::ReplicaState::kDead);
  layout->others.resize(config.shard_number);
  layout->transfers.resize(config.shard_number);
  layout->lost.resize(config.shard_number, false);
  for (uint32_t shard = 0; shard < config.shard_number; ++shard) {
    if (!std::filesystem::exists(c->ShardDir(shard) + "/points.db", ec)) continue;
    Result<std::shared_ptr<Slot>> slot = c->OpenSlot(shard);
    if (!slot.ok()) return slot.status();
    layout->local[shard] = std::move(*slot);
  }
  c->layout_.store(std::move(layout));
  return c;
}

Status Collection::ApplyPlacement(const ShardPlacement& placement, bool recreate_missing) {
  std::lock_guard<std::mutex> lock(placement_mu_);
  std::shared_ptr<const Layout> old = layout();
  const uint32_t shards = config().shard_number;
  auto next = std::make_shared<Layout>();
  next->placed = true;
  next->self_peer = placement.self_peer;
  next->local.resize(shards);
  next->local_state.resize(shards, shard::ReplicaState::kDead);
  next->others.resize(shards);
  next->transfers.resize(shards);
  next->lost.resize(shards, false);
  for (const auto& [shard, transfers] : placement.transfers) {
    if (shard < shards) next->transfers[shard] = transfers;
  }
  std::vector<uint32_t> to_open;
  for (uint32_t shard = 0; shard < shards; ++shard) {
    bool here = false;
    if (auto it = placement.replicas.find(shard); it != placement.replicas.end()) {
      for (const auto& [peer, state] : it->second) {
        if (peer == placement.self_peer) {
          here = true;
          next->local_state[shard] = state;
        } else {
          next->others[shard].emplace_back(peer, state);
        }
      }
      std::sort(next->others[shard].begin(), next->others[shard].end());
      // A remote replica that (again) takes this peer's ordered writes gets a fresh replication
      // stream: the one that failed when it went Dead must not fail its new ops. (A transfer's
      // receiver is fed by the transfer's source, which resets the stream itself.)
      for (const auto& [peer, state] : next->others[shard]) {
        if (!link_ || !shard::AcceptsWrites(state) || next->IsTransferTarget(shard, peer)) continue;
        bool was_writable = false;
        if (shard < old->others.size()) {
          for (const auto& [old_peer, old_state] : old->others[shard]) {
            if (old_peer == peer)
              was_writable = shard::AcceptsWrites(old_state) && !old->IsTransferTarget(shard, peer);
          }
        }
        if (!was_writable) link_->ResetReplication(peer, name_, shard);
      }
    }
    std::shared_ptr<Slot> slot = shard < old->local.size() ? old->local[shard] : nullptr;
    std::error_code ec;
    bool vanished = slot && recreate_missing && !std::filesystem::exists(ShardDir(shard) + "/points.db", ec);
    if (slot && (!here || vanished)) {
      // Never write through the old paths again, and move what is left of its files aside:
      // requests in flight may still hold the replica, and a new one may be created here.
      slot->replica->Abandon();
      static std::atomic<uint64_t> counter{0};
      std::string trash = dir_ + "/.deleted-" + std::to_string(shard) + "-" + std::to_string(counter++);
      std::filesystem::rename(ShardDir(shard), trash, ec);
      if (!ec) slot->trash = trash;
      closing_[shard] = slot;
      slot.reset();
      QD_LOG_INFO("collection " + name_ + ": " + (vanished ? "re-creating the vanished" : "dropping the") +
                  " local replica of shard " + std::to_string(shard));
    }
    if (here && !slot) to_open.push_back(shard);
    {
      // A replica created now while consensus says it holds data lost its files; it stays lost
      // until consensus says otherwise (Dead, then refilled).
      const shard::ReplicaState st = next->local_state[shard];
      const bool holds_data = st == shard::ReplicaState::kActive ||
                              st == shard::ReplicaState::kActiveRead ||
                              st == shard::ReplicaState::kListener;
      const bool was_lost = shard < old->lost.size() && old->lost[shard];
      next->lost[shard] = here && holds_data && (!slot || was_lost);
      // A transfer into it ended with it holding everything: no longer incomplete.
      if (slot && holds_data && !next->lost[shard]) {
        if (Status s = slot->replica->MarkComplete(); !s.ok()) {
          QD_LOG_WARN("collection " + name_ + ", shard " + std::to_string(shard) + ": " +
                      s.message());
        }
      }
    }
    if (slot) ListenToLog(*slot, shard, placement.self_peer);
    next->local[shard] = std::move(slot);
    if (OrdererOf(*next, shard) != placement.self_peer) {
      // Should it order again later, it takes over again (Handover).
      std::lock_guard<std::mutex> fenced(handover_mu_);
      fenced_.erase(shard);
    }
  }
  layout_.store(next);
  old.reset();
  if (to_open.empty()) return Status::Ok();

  Status first_error;
  auto complete = std::make_shared<Layout>(*next);
  for (uint32_t shard : to_open) {
    if (Status closed = WaitClosed(shard); !closed.ok()) {
      if (first_error.ok()) first_error = closed;
      continue;
    }
    Result<std::shared_ptr<Slot>> opened = OpenSlot(shard);
    if (!opened.ok()) {
      QD_LOG_ERROR("collection " + name_ + ": cannot create the local replica of shard " +
                   std::to_string(shard) + ": " + opened.status().message());
      if (first_error.ok()) first_error = opened.status().WithContext("collection " + name_);
      continue;
    }
    ListenToLog(**opened, shard, placement.self_peer);
    complete->local[shard] = std::move(*opened);
  }
  layout_.store(std::move(complete));
  return first_error;
}

Status Collection::RecoverLocalShard(uint32_t shard, const std::string& source) {
  std::lock_guard<std::mutex> lock(placement_mu_);
  std::shared_ptr<const Layout> old = layout();
  if (old->placed) {
    return Status::FailedPrecondition(
        "Recovering a shard from a snapshot is not supported in cluster mode: a replica is "
        "refilled by a shard transfer (POST /collections/" +
        name_ + "/cluster)");
  }
  if (shard >= old->local.size() || !old->local[shard]) {
    return Status::NotFound("Shard " + std::to_string(shard) + " of collection `" + name_ +
                            "` has no replica on this peer");
  }
  old.reset();  // the old replica must close
  // Requests in flight finish on the old replica (its writes are lost with it, as the recovery
  // means), new ones wait outside.
  Result<std::shared_ptr<Slot>> opened =
      ReplaceLocalReplica(shard, source,
                          "Collection `" + name_ + "`: shard " + std::to_string(shard) +
                              " is being recovered from a snapshot; retry shortly",
                          "recovered");
  if (!opened.ok()) return opened.status().WithContext("collection " + name_);
  auto done = std::make_shared<Layout>(*layout());
  done->local[shard] = std::move(*opened);
  done->unavailable.clear();
  layout_.store(std::move(done));
  QD_LOG_INFO("collection " + name_ + ": shard " + std::to_string(shard) +
              " recovered from a snapshot");
  return Status::Ok();
}

Result<std::shared_ptr<Collection::Slot>> Collection::ReplaceLocalReplica(
    uint32_t shard, const std::string& source, const std::string& unavailable,
    const std::string& why) {
  namespace fs = std::filesystem;
  std::shared_ptr<const Layout> old = layout();
  // Out of the layout first, as ApplyPlacement drops a replica.
  auto next = std::make_shared<Layout>(*old);
  old.reset();
  std::shared_ptr<Slot> slot = std::move(next->local[shard]);
  next->unavailable = unavailable;
  slot->replica->Abandon();
  static std::atomic<uint64_t> counter{0};
  const std::string trash =
      dir_ + "/.deleted-" + std::to_string(shard) + "-" + why + "-" + std::to_string(counter++);
  std::error_code ec;
  fs::rename(ShardDir(shard), trash, ec);
  if (ec) {
    return Status::Internal("cannot move shard " + std::to_string(shard) +
                            " aside: " + ec.message());
  }
  slot->trash = trash;
  closing_[shard] = slot;
  slot.reset();
  layout_.store(next);
  fs::rename(source, ShardDir(shard), ec);
  if (ec) {
    // Nothing at the shard's path: the next placement applied here (or a restart) creates it.
    return Status::Internal("cannot move the new files of shard " + std::to_string(shard) +
                            " into place: " + ec.message());
  }
  // The old replica's SQLite files must be closed before new ones open at its former path.
  if (Status closed = WaitClosed(shard); !closed.ok()) {
    return closed.WithContext("the new files are served after a restart");
  }
  Result<std::shared_ptr<Slot>> opened = OpenSlot(shard);
  if (!opened.ok()) {
    QD_LOG_ERROR("collection " + name_ + ": cannot open the new files of shard " +
                 std::to_string(shard) + ": " + opened.status().message());
    fs::rename(ShardDir(shard), trash + "-failed", ec);  // recreated empty, as above
  }
  return opened;
}

Status Collection::WaitClosed(uint32_t shard) {
  // SQLite deletes a WAL file by its path when the last connection closes it: a replica that
  // left this path must be closed (no request holds it any more) before a new one opens here.
  auto closing = closing_.find(shard);
  if (closing == closing_.end()) return Status::Ok();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!closing->second.expired() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!closing->second.expired()) {
    return Status::Unavailable("collection " + name_ + ": the old replica of shard " +
                               std::to_string(shard) + " is still in use; retry");
  }
  closing_.erase(closing);
  return Status::Ok();
}

void Collection::AcceptLoss(uint32_t shard) {
  std::lock_guard<std::mutex> lock(placement_mu_);
  std::shared_ptr<const Layout> old = layout();
  if (shard >= old->lost.size() || !old->lost[shard]) return;
  auto next = std::make_shared<Layout>(*old);
  next->lost[shard] = false;
  layout_.store(std::move(next));
  QD_LOG_ERROR("collection " + name_ + ": the files of the local replica of shard " +
               std::to_string(shard) +
               " vanished and no other replica can refill it: it serves again, empty");
}

bool Collection::LostData(uint32_t shard) const {
  std::shared_ptr<const Layout> layout = this->layout();
  return shard < layout->lost.size() && layout->lost[shard];
}

bool Collection::Layout::IsTransferTarget(uint32_t shard, uint64_t peer) const {
  if (shard >= transfers.size()) return false;
  for (const auto& [from, to] : transfers[shard]) {
    if (to == peer) return true;
  }
  return false;
}

bool Collection::Layout::HasTransfer(uint32_t shard, uint64_t from, uint64_t to) const {
  if (shard >= transfers.size()) return false;
  for (const auto& t : transfers[shard]) {
    if (t.first == from && t.second == to) return true;
  }
  return false;
}

void Collection::ListenToLog(const Slot& slot, uint32_t shard, uint64_t self_peer) {
  if (!link_) return;
  slot.replica->SetLogListener(
      self_peer, [this, shard](segment::OpNum n, const std::string& body, bool ordered_here,
                               uint64_t from) { OnLogged(shard, n, body, ordered_here, from); });
}

Status Collection::CheckKnown(const Layout& layout) const {
  if (!layout.unavailable.empty()) return Status::Unavailable(layout.unavailable);
  if (layout.placed && !layout.known) {
    return Status::Unavailable("Collection `" + name_ +
                               "`: this peer has not applied the shard placement from consensus yet; retry shortly");
  }
  return Status::Ok();
}

std::vector<uint32_t> Collection::AllShards(const Layout& layout) const {
  std::vector<uint32_t> out(layout.local.size());
  for (uint32_t s = 0; s < out.size(); ++s) out[s] = s;
  return out;
}

size_t Collection::segments_count() const {
  size_t n = 0;
  const std::shared_ptr<const Layout> held = layout();  // alive through the loop
  for (const auto& slot : held->local) n += slot ? 1 : 0;
  return n;
}

bool Collection::HasLocalShard(size_t shard) const {
  std::shared_ptr<const Layout> l = layout();
  return shard < l->local.size() && l->local[shard];
}

size_t Collection::ShardPointsCount(size_t shard) const {
  std::shared_ptr<const Layout> l = layout();
  if (shard >= l->local.size() || !l->local[shard]) return 0;
  return l->local[shard]->replica->segment().points_count();
}

CollectionConfig Collection::config() const {
  std::lock_guard<std::mutex> lock(config_mu_);
  return config_;
}

void Collection::SetConfig(CollectionConfig config) {
  std::lock_guard<std::mutex> lock(config_mu_);
  strict_.store(MakeStrict(config, strict_.load()));
  strict_enabled_ = strict_.load()->mode->enabled;
  config_ = std::move(config);
}

size_t Collection::ShardOf(const PointId& id, size_t shards) { return id.StableHash() % shards; }

Status Collection::ValidatePoints(std::vector<segment::PointStruct>& points, bool partial) const {
  CollectionConfig c = config();
  for (segment::PointStruct& p : points) {
    for (auto& [name, v] : p.vectors) {
      const segment::VectorSpec* spec = c.FindVector(name);
      if (!spec) {
        return Status::InvalidArgument(
            "Wrong input: Not existing vector name error: " +
            (name.empty() ? std::string("default vector (the collection has only named vectors)")
                          : name));
      }
      if (spec->sparse != v.sparse) {
        return Status::InvalidArgument("Wrong input: Conversion between sparse and regular vectors failed for vector `" + name + "`");
      }
      if (!v.sparse) {
        if (v.dense.size() != spec->dim) {
          return Status::InvalidArgument("Wrong input: Vector dimension error: expected dim: " +
                                         std::to_string(spec->dim) + ", got " +
                                         std::to_string(v.dense.size()));
        }
      } else {
        if (v.indices.size() != v.values.size()) {
          return Status::InvalidArgument("Validation error in JSON body: [" + name +
                                         ": indices and values must have the same length]");
        }
        std::vector<uint32_t> sorted = v.indices;
        std::sort(sorted.begin(), sorted.end());
        if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
          return Status::InvalidArgument("Validation error in JSON body: [" + name +
                                         ": indices must be unique]");
        }
      }
    }
    if (!partial && c.unnamed_vector && p.vectors.empty()) {
      return Status::InvalidArgument("Wrong input: Vector dimension error: expected dim: " +
                                     std::to_string(c.vectors[0].dim) + ", got 0");
    }
  }
  return Status::Ok();
}

namespace {

bool NeedsExisting(const UpdateRequest& request) {
  const OpKind kind = request.op.kind;
  return kind == OpKind::kUpdateVectors ||
         ((kind == OpKind::kSetPayload || kind == OpKind::kOverwritePayload) && !request.by_filter);
}

std::string StatesText(const std::vector<std::pair<uint64_t, shard::ReplicaState>>& replicas) {
  std::string out;
  for (const auto& [peer, state] : replicas) {
    out += (out.empty() ? "" : ", ") + std::to_string(peer) + ": " +
           std::string(shard::StateName(state));
  }
  return out;
}

// How long the ordering replica waits for the other replicas' answers; PeerLink's calls carry
// their own, shorter deadlines, so this only guards against a lost callback.
constexpr std::chrono::seconds kAckWait{120};
// How long a write waits for consensus to mark a replica that missed it Dead.
constexpr std::chrono::seconds kDeadReportWait{15};
// How long a replica that finds a gap in its stream waits for another stream to fill it before
// it fetches the missing ops from the sender's WAL.
constexpr std::chrono::milliseconds kGapFillAfter{300};
// How long a replica asked to stop ordering waits for its view (and its writes in flight).
constexpr std::chrono::seconds kFenceWait{2};
// How long a coordinator retries a write its stale view of the shard sent to a replica that no
// longer orders it.
constexpr std::chrono::seconds kStaleViewWait{5};

// The answer of a replica that was picked from an outdated view of the shard and wrote nothing
// (Collection::CheckLocalReplica's words): it left the shard, or may not order its writes.
bool IsStaleView(const Status& s) {
  if (s.code() == StatusCode::kNotFound) {
    return s.message().find(" holds no replica of it") != std::string::npos;
  }
  return s.code() == StatusCode::kUnavailable && !IsUnreachable(s) &&
         s.message().find(" and cannot order writes") != std::string::npos;
}

}  // namespace

Result<UpdateResult> Collection::Update(UpdateRequest request, const OnDurable& on_durable) {
  const Operation& op = request.op;
  std::shared_ptr<const Layout> layout = this->layout();
  if (Status known = CheckKnown(*layout); !known.ok()) return known;
  if (Status strict = CheckStrictWrite(request); !strict.ok()) return strict;
  UpdateLimiter::Permit permit;
  if (layout->placed && limiter_) {
    Result<UpdateLimiter::Permit> acquired = limiter_->Acquire();
    if (!acquired.ok()) return acquired.status();
    permit = std::move(*acquired);
  }
  const size_t shards = layout->local.size();
  // Split explicit points / ids by shard.
  std::vector<Operation> per_shard(shards);
  for (Operation& o : per_shard) {
    o.kind = op.kind;
    o.payload_json = op.payload_json;
    o.key = op.key;
    o.names = op.names;
    o.field_name = op.field_name;
    o.field_schema_json = op.field_schema_json;
  }
  for (const segment::PointStruct& p : op.points)
    per_shard[ShardOf(p.id, shards)].points.push_back(p);
  for (const PointId& id : op.ids) per_shard[ShardOf(id, shards)].ids.push_back(id);
  const bool index_op = op.kind == OpKind::kCreateFieldIndex || op.kind == OpKind::kDeleteFieldIndex;
  auto touches = [&](size_t s) {
    return index_op || request.by_filter || !per_shard[s].points.empty() || !per_shard[s].ids.empty();
  };
  // Standalone, points that must exist are checked first on every shard, so that nothing is
  // applied when one is missing (Qdrant answers 404 for the whole request). In cluster mode each
  // shard's ordering replica checks its own part when it resolves it.
  if (NeedsExisting(request) && !layout->placed) {
    for (size_t s = 0; s < shards; ++s) {
      for (const PointId& id : per_shard[s].AffectedIds()) {
        if (!layout->local[s]->replica->segment().Exists(id)) {
          return Status::NotFound("No point with id " + id.ToString() + " found");
        }
      }
    }
  }
  size_t last_touched = 0;
  for (size_t s = 0; s < shards; ++s) {
    if (touches(s)) last_touched = s;
  }

  UpdateResult result;
  for (size_t s = 0; s < shards; ++s) {
    if (!touches(s)) continue;
    UpdateRequest part;
    part.op = std::move(per_shard[s]);
    part.by_filter = request.by_filter;
    part.filter = request.filter;
    part.update_mode = request.update_mode;
    part.update_filter = request.update_filter;
    part.ordering = request.ordering;
    // The caller hears "durable" once the last shard's op is logged: the earlier shards are
    // applied by then (one shard at a time, so that no thread holds a logged op of one shard
    // while it waits in another).
    OnDurable durable;
    if (on_durable && s == last_touched) {
      durable = [&](segment::OpNum n) { on_durable(std::max(result.operation_id, n)); };
    }
    // A coordinator whose view of the shard is behind (the replica it picked moved away or
    // stopped ordering) hears so before anything is written: it tries again with a newer view.
    Result<segment::OpNum> n = Status::Unavailable("unwritten");
    const auto give_up = std::chrono::steady_clock::now() + kStaleViewWait;
    for (;;) {
      // Standalone (and the last try) hands the request over; a retry needs it again.
      const bool last_try = !layout->placed || std::chrono::steady_clock::now() > give_up;
      n = WriteShard(*layout, static_cast<uint32_t>(s),
                     last_try ? std::move(part) : UpdateRequest(part), durable);
      if (last_try || n.ok() || !IsStaleView(n.status())) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      layout = this->layout();
    }
    if (!n.ok()) return n.status();
    result.operation_id = std::max(result.operation_id, *n);
  }
  if (op.kind == OpKind::kCreateFieldIndex) {
    // The index answers the filters an UNINDEXED_FIELD issue was about.
    std::string field = op.field_name;
    if (Result<index::JsonPath> path = index::ParseJsonPath(field); path.ok())
      field = path->ToString();
    IssueLog::Global().Resolve("UNINDEXED_FIELD/" + name_ + "/" + field);
  }
  return result;
}

Result<segment::OpNum> Collection::WriteShard(const Layout& layout, uint32_t shard,
                                              UpdateRequest request, const OnDurable& on_durable) {
  if (!layout.placed) return WriteLocal(layout, shard, std::move(request), on_durable);
  const std::string where = "Collection `" + name_ + "`, shard " + std::to_string(shard);
  Replicas all = layout.others[shard];
  if (layout.local[shard]) all.emplace_back(layout.self_peer, layout.local_state[shard]);
  if (all.empty()) return Status::Unavailable(where + ": no peer holds a replica of this shard");
  // Highest peer id first (compat.md §5.3); a Listener never orders writes.
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  Replicas candidates;
  const bool strong = request.ordering == WriteOrdering::kStrong;
  // An Initializing replica exists only right after its collection was created, holds every
  // write since, and becomes Active as soon as its peer proposed it: a coordinator whose view
  // still says Initializing (it lags the create's proposer) uses it after the Active ones.
  const auto initializing = [](shard::ReplicaState st) {
    return st == shard::ReplicaState::kInitializing;
  };
  if (strong) {
    for (const auto& r : all) {
      if (r.second == shard::ReplicaState::kListener) continue;
      if (!shard::MayOrder(r.second) && !initializing(r.second)) {
        return Status::Internal(where + ": strong ordering needs the replica on peer " +
                                std::to_string(r.first) + ", which is " +
                                std::string(shard::StateName(r.second)) + "; nothing was written");
      }
      candidates.push_back(r);
      break;
    }
  } else {
    for (const auto& r : all) {
      if (shard::MayOrder(r.second)) candidates.push_back(r);
    }
    for (const auto& r : all) {
      if (initializing(r.second)) candidates.push_back(r);
    }
  }
  if (candidates.empty()) {
    return Status::Unavailable(where + ": no Active replica can order its writes (replicas: " +
                               StatesText(all) + "); nothing was written");
  }
  Status last_error;
  for (const auto& [peer, state] : candidates) {
    if (peer == layout.self_peer) return WriteLocal(layout, shard, std::move(request), on_durable);
    Result<segment::OpNum> n = link_->Forward(peer, name_, shard, request);
    if (n.ok()) {
      if (on_durable && *n != 0) on_durable(*n);
      return n;
    }
    if (!IsUnreachable(n.status())) return n.status();
    if (strong) {
      return Status::Internal(where + ": strong ordering needs the replica on peer " +
                              std::to_string(peer) +
                              ", which cannot be reached: " + n.status().message());
    }
    // It never got the call, or it may have and then died: its replica is out of date either
    // way. The next replica orders the writes only once consensus says this one is Dead, so that
    // no coordinator still sends writes to it.
    std::shared_future<Status> report = link_->ReportDead(name_, shard, peer, n.status().message());
    Status marked = report.wait_for(kDeadReportWait) == std::future_status::ready
                        ? report.get()
                        : Status::DeadlineExceeded("no answer from consensus in time");
    if (!marked.ok() && marked.code() != StatusCode::kNotFound) {
      return Status::Unavailable(where + ": its ordering replica on peer " + std::to_string(peer) +
                                 " cannot be reached (" + n.status().message() +
                                 ") and could not be marked Dead: " + marked.message() +
                                 "; nothing was written");
    }
    last_error = n.status();
  }
  return Status::Unavailable(
      where + ": no replica that may order its writes could be reached; last error: " +
      last_error.message());
}

Status Collection::CheckLocalReplica(const Layout& layout, uint32_t shard, bool allowed,
                                     const std::string& refused) const {
  if (Status known = CheckKnown(layout); !known.ok()) return known;
  const std::string where = "Collection `" + name_ + "`, shard " + std::to_string(shard);
  if (shard >= layout.local.size() || !layout.local[shard]) {
    return Status::NotFound(where + ": peer " + std::to_string(layout.self_peer) +
                            " holds no replica of it");
  }
  if (!allowed) {
    return Status::Unavailable(where + ": the replica on peer " + std::to_string(layout.self_peer) +
                               " is " + std::string(shard::StateName(layout.local_state[shard])) +
                               refused);
  }
  return Status::Ok();
}

Result<segment::OpNum> Collection::UpdateAsOrderingReplica(uint32_t shard, UpdateRequest request) {
  std::shared_ptr<const Layout> layout = this->layout();
  const bool allowed =
      shard < layout->local_state.size() && shard::HoldsAllWrites(layout->local_state[shard]);
  Status s = CheckLocalReplica(*layout, shard, allowed, " and cannot order writes");
  if (!s.ok()) return s;
  return WriteLocal(*layout, shard, std::move(request), nullptr);
}

Result<segment::OpNum> Collection::WriteLocal(const Layout& layout, uint32_t shard,
                                              UpdateRequest request, const OnDurable& on_durable) {
  const std::shared_ptr<Slot>& slot = layout.local[shard];
  const OpKind kind = request.op.kind;
  const bool cluster = layout.placed;
  const bool check_existing = cluster && NeedsExisting(request);
  // A resolve that only passes the request on may overlap the previous request's apply.
  const bool pure = !request.by_filter && !check_existing &&
                    ((kind != OpKind::kUpsert && kind != OpKind::kUpdateVectors) ||
                     (kind == OpKind::kUpsert && request.update_mode == UpdateMode::kUpsert &&
                      !request.update_filter));
  auto resolve = [&](const segment::Segment& seg) -> Result<Operation> {
    if (pure) return std::move(request.op);  // read once, by this resolve
    Operation out = std::move(request.op);
    if (check_existing) {
      for (const PointId& id : out.AffectedIds()) {
        if (!seg.Exists(id))
          return Status::NotFound("No point with id " + id.ToString() + " found");
      }
    }
    if (request.by_filter) out.ids = seg.Matching(request.filter);
    if (kind == OpKind::kUpsert || kind == OpKind::kUpdateVectors) {
      std::vector<segment::PointStruct> kept;
      for (segment::PointStruct& p : out.points) {
        bool exists = seg.Exists(p.id);
        if (request.update_mode == UpdateMode::kInsertOnly && exists) continue;
        if (request.update_mode == UpdateMode::kUpdateOnly && !exists) continue;
        if (request.update_filter && exists) {
          segment::RecordBatch b = seg.Retrieve(
              {p.id}, segment::Projection{
                          [](const rapidjson::Value& in, rapidjson::Value& o,
                             rapidjson::Document::AllocatorType& a) { o.CopyFrom(in, a); }});
          if (b.points.empty() || !request.update_filter(p.id, b.points[0].payload)) continue;
        }
        kept.push_back(std::move(p));
      }
      out.points = std::move(kept);
    }
    return out;
  };
  const bool replicated = cluster && link_ != nullptr;
  const size_t wcf = replicated ? std::max<size_t>(1, config().write_consistency_factor) : 1;
  // With write_consistency_factor 1 the local WAL is enough to tell a wait=false caller.
  // Only the shard's ordering replica numbers its writes, and only once it took over from the
  // one before it (Handover); Fence waits for the writes that passed this check.
  std::shared_lock<std::shared_timed_mutex> ordering(OrderingMutex(shard), std::defer_lock);
  if (replicated) {
    auto not_orderer = [&](const Layout& now) -> Status {
      if (OrdererOf(now, shard) == now.self_peer) return Status::Ok();
      return Status::Unavailable(
          "Collection `" + name_ + "`, shard " + std::to_string(shard) + ": the replica on peer " +
          std::to_string(now.self_peer) + " is not its ordering replica (peer " +
          std::to_string(OrdererOf(now, shard)) + " is) and cannot order writes");
    };
    // Checked before the lock too: once the view moved on, writes never touch it, so Fence's
    // exclusive lock is not starved by writes that are refused anyway.
    if (Status s = not_orderer(*this->layout()); !s.ok()) return s;
    ordering.lock();
    std::shared_ptr<const Layout> now = this->layout();
    if (Status s = not_orderer(*now); !s.ok()) return s;
    if (Status s = Handover(*now, shard); !s.ok()) return s;
  }
  Result<segment::OpNum> n = slot->replica->Update(resolve, pure, wcf <= 1 ? on_durable : nullptr);
  if (!n.ok() || *n == 0 || !replicated) return n;

  AckOutcome acks = WaitAcks(shard, *n);
  size_t applied = 1 + acks.applied;
  size_t replicas = 1 + acks.replicas;
  std::string first_failure;
  std::vector<std::pair<uint64_t, std::shared_future<Status>>> reports;
  for (const auto& [peer, failure] : acks.failures) {
    reports.emplace_back(peer, link_->ReportDead(name_, shard, peer, failure.message()));
    if (first_failure.empty())
      first_failure = "peer " + std::to_string(peer) + ": " + failure.message();
  }
  // A replica that missed the write must be Dead in the cluster state before the write is
  // acknowledged: otherwise it could order or answer later requests without it (Qdrant waits
  // the same way). When consensus cannot mark it, the write is not acknowledged.
  for (auto& [peer, report] : reports) {
    Status marked = report.wait_for(kDeadReportWait) == std::future_status::ready
                        ? report.get()
                        : Status::DeadlineExceeded("no answer from consensus in time");
    // kNotFound: the replica left the shard meanwhile (a move dropped it); it serves nothing.
    if (!marked.ok() && marked.code() != StatusCode::kNotFound) {
      return Status::Unavailable("Collection `" + name_ + "`, shard " + std::to_string(shard) +
                                 ": the write was applied by " + std::to_string(applied) + " of " +
                                 std::to_string(replicas) + " replicas, but the replica on peer " +
                                 std::to_string(peer) +
                                 " that missed it could not be marked Dead (" + marked.message() +
                                 "); the write is not acknowledged and may be visible or not");
    }
  }
  if (applied < wcf) {
    return Status::Unavailable("Collection `" + name_ + "`, shard " + std::to_string(shard) +
                               ": write consistency factor not met: " + std::to_string(applied) +
                               " of " + std::to_string(replicas) + " replicas applied the write, " +
                               std::to_string(wcf) + " required" +
                               (first_failure.empty() ? std::string() : "; " + first_failure));
  }
  if (wcf > 1 && on_durable) on_durable(*n);
  return n;
}

Collection::AckOutcome Collection::WaitAcks(uint32_t shard, segment::OpNum op_num) {
  std::shared_ptr<Acks> acks;
  {
    std::lock_guard<std::mutex> lock(acks_mu_);
    auto it = acks_.find({shard, op_num});
    if (it == acks_.end()) return {};
    acks = std::move(it->second);
    acks_.erase(it);
  }
  std::unique_lock<std::mutex> lock(acks->mu);
  if (!acks->cv.wait_for(lock, std::chrono::seconds(5), [&] { return acks->pending == 0; })) {
    QD_LOG_WARN("collection " + name_ + ", shard " + std::to_string(shard) + ": op " +
                std::to_string(op_num) + " still waits for " + std::to_string(acks->pending) +
                " replica(s) after 5 s");
    acks->cv.wait_for(lock, kAckWait, [&] { return acks->pending == 0; });
  }
  AckOutcome out;
  out.applied = acks->applied;
  out.replicas = acks->applied + acks->failures.size() + acks->pending;
  out.failures = acks->failures;
  return out;
}

void Collection::OnLogged(uint32_t shard, segment::OpNum op_num, const std::string& body,
                          bool ordered_here, uint64_t from) {
  std::shared_ptr<const Layout> layout = this->layout();
  if (!link_ || shard >= layout->others.size()) return;
  std::vector<uint64_t> targets;
  if (ordered_here) {
    for (const auto& [peer, state] : layout->others[shard]) {
      if (shard::AcceptsWrites(state) && !layout->IsTransferTarget(shard, peer))
        targets.push_back(peer);
    }
  }
  {
    std::lock_guard<std::mutex> lock(forwards_mu_);
    auto it = forwards_.find(shard);
    if (it != forwards_.end()) {
      // Never back to the peer it came from: a transfer's receiver that became the ordering
      // replica before this source stopped forwarding would get its own op back, and the two
      // would wait for each other's answer (each holding the op's acks) until the ack timeout.
      for (uint64_t peer : it->second) {
        if (peer != from && std::find(targets.begin(), targets.end(), peer) == targets.end())
          targets.push_back(peer);
      }
    }
  }
  if (targets.empty()) return;
  auto acks = std::make_shared<Acks>();
  acks->pending = targets.size();
  {
    std::lock_guard<std::mutex> lock(acks_mu_);
    acks_[{shard, op_num}] = acks;
  }
  for (uint64_t peer : targets) {
    StreamItem item;
    item.op_num = op_num;
    item.body = body;
    link_->Replicate(peer, name_, shard, layout->self_peer, std::move(item),
                     [acks, peer](Status s) { acks->Done(peer, s); });
  }
}

Result<segment::OpNum> Collection::ApplyReplicated(uint32_t shard, uint64_t origin,
                                                   std::vector<StreamItem> items) {
  segment::OpNum last = 0;
  for (size_t i = 0; i < items.size();) {
    std::shared_ptr<const Layout> layout = this->layout();
    const std::string where = "Collection `" + name_ + "`, shard " + std::to_string(shard);
    if (items[i].kind == StreamItem::Kind::kOp) {
      std::vector<replica::LocalReplica::NumberedOp> ops;
      for (; i < items.size() && items[i].kind == StreamItem::Kind::kOp; ++i) {
        ops.push_back({items[i].op_num, std::move(items[i].body)});
      }
      const bool allowed =
          shard < layout->local_state.size() && shard::AcceptsWrites(layout->local_state[shard]);
      Status s = CheckLocalReplica(*layout, shard, allowed, " and takes no writes");
      if (!s.ok()) return s;
      const segment::OpNum first = ops.front().op_num;
      replica::LocalReplica& replica = *layout->local[shard]->replica;
      if (segment::OpNum have = replica.last_op(); first > have + 1) {
        // A gap: the missing ops may still come through another stream (a transfer's source
        // forwards until it sees the transfer end), or went nowhere (it stopped before the
        // ordering replica started sending here): then the sender's WAL has them.
        have = replica.WaitLogged(first - 1, kGapFillAfter);
        if (first > have + 1 && link_) {
          Result<std::vector<StreamItem>> missing =
              link_->ReadOps(origin, name_, shard, have + 1, first - 1);
          if (missing.ok()) {
            std::vector<replica::LocalReplica::NumberedOp> filled;
            for (StreamItem& m : *missing) filled.push_back({m.op_num, std::move(m.body)});
            QD_LOG_INFO(where + ": fetched ops " + std::to_string(have + 1) + ".." +
                        std::to_string(first - 1) + " this replica missed from peer " +
                        std::to_string(origin));
            std::move(ops.begin(), ops.end(), std::back_inserter(filled));
            ops = std::move(filled);
          }
        }
      }
      std::vector<segment::OpNum> logged;
      Result<segment::OpNum> n = replica.ApplyReplicated(origin, std::move(ops), &logged);
      // The receivers of a transfer this peer sends got these ops too (OnLogged): answer once
      // they applied them, so that the writer's wait covers the transfer's receiver. Only the
      // ops logged by this call: an op skipped here was logged (and its acks registered) by
      // whoever logged it first, maybe this peer ordering it, which waits for them itself.
      for (segment::OpNum op : logged) {
        AckOutcome acks = WaitAcks(shard, op);
        for (const auto& [peer, failure] : acks.failures) {
          link_->ReportDead(name_, shard, peer, failure.message());
        }
      }
      if (!n.ok()) return n.status();
      last = *n;
      continue;
    }
    StreamItem item = std::move(items[i++]);
    Status s =
        CheckLocalReplica(*layout, shard, layout->HasTransfer(shard, origin, layout->self_peer),
                          " and receives no transfer from that peer");
    if (!s.ok()) return s;
    if (item.kind == StreamItem::Kind::kTransferReset) {
      s = ResetForTransfer(shard, item.op_num, item.indexes);
      if (!s.ok()) return s.WithContext(where + ": transfer from peer " + std::to_string(origin));
      last = item.op_num;
      continue;
    }
    if (item.kind != StreamItem::Kind::kTransferPoints) {
      return Status::InvalidArgument(where + ": unknown stream item kind");
    }
    Result<Operation> op = segment::Decode(item.body);
    if (!op.ok()) return op.status();
    s = layout->local[shard]->replica->ApplyTransferred(*op, item.versions);
    if (!s.ok()) return s.WithContext(where + ": transfer from peer " + std::to_string(origin));
  }
  std::shared_ptr<const Layout> layout = this->layout();
  if (last == 0 && shard < layout->local.size() && layout->local[shard]) {
    last = layout->local[shard]->replica->last_op();
  }
  return last;
}

uint64_t Collection::OrdererOf(const Layout& layout, uint32_t shard) {
  uint64_t active = 0, initializing = 0;
  auto consider = [&](uint64_t peer, shard::ReplicaState state) {
    if (shard::MayOrder(state)) active = std::max(active, peer);
    if (state == shard::ReplicaState::kInitializing) initializing = std::max(initializing, peer);
  };
  if (shard < layout.local.size() && layout.local[shard] && !layout.lost[shard]) {
    consider(layout.self_peer, layout.local_state[shard]);
  }
  if (shard < layout.others.size()) {
    for (const auto& [peer, state] : layout.others[shard]) consider(peer, state);
  }
  return active != 0 ? active : initializing;
}

Status Collection::Handover(const Layout& layout, uint32_t shard) {
  {
    std::lock_guard<std::mutex> lock(handover_mu_);
    if (fenced_.count(shard)) return Status::Ok();
  }
  std::lock_guard<std::mutex> one_at_a_time(handover_run_mu_);
  {
    std::lock_guard<std::mutex> lock(handover_mu_);
    if (fenced_.count(shard)) return Status::Ok();
  }
  const std::string where = "Collection `" + name_ + "`, shard " + std::to_string(shard);
  replica::LocalReplica& replica = *layout.local[shard]->replica;
  segment::OpNum mine = replica.last_op();
  segment::OpNum newest = mine;
  uint64_t newest_peer = 0;
  for (const auto& [peer, state] : layout.others[shard]) {
    if (!shard::MayOrder(state) && state != shard::ReplicaState::kInitializing) continue;
    if (layout.IsTransferTarget(shard, peer)) continue;
    Result<segment::OpNum> last = link_->Fence(peer, name_, shard, layout.self_peer);
    if (!last.ok()) {
      // Down (or paused): writes report it Dead; nothing else can be done about it here.
      if (IsUnreachable(last.status())) continue;
      return Status::Unavailable(where + ": taking over its ordering from peer " +
                                 std::to_string(peer) + " failed: " + last.status().message());
    }
    if (*last > newest) {
      newest = *last;
      newest_peer = peer;
    }
  }
  if (newest > mine) {
    Result<std::vector<StreamItem>> missing =
        link_->ReadOps(newest_peer, name_, shard, mine + 1, newest);
    if (!missing.ok()) {
      return Status::Unavailable(where + ": taking over its ordering needs ops " +
                                 std::to_string(mine + 1) + ".." + std::to_string(newest) +
                                 " from peer " + std::to_string(newest_peer) + ": " +
                                 missing.status().message());
    }
    std::vector<replica::LocalReplica::NumberedOp> ops;
    for (StreamItem& m : *missing) ops.push_back({m.op_num, std::move(m.body)});
    std::vector<segment::OpNum> logged;
    Result<segment::OpNum> n = replica.ApplyReplicated(newest_peer, std::move(ops), &logged);
    {
      // A transfer this peer sends got them too (OnLogged); its stream fails later ops if it
      // fails these, so nobody waits for their answers here.
      std::lock_guard<std::mutex> lock(acks_mu_);
      for (segment::OpNum op : logged) acks_.erase({shard, op});
    }
    if (!n.ok()) return n.status().WithContext(where + ": taking over its ordering");
  }
  QD_LOG_INFO(where + ": this peer orders its writes from op " + std::to_string(newest + 1));
  std::lock_guard<std::mutex> lock(handover_mu_);
  fenced_.insert(shard);
  return Status::Ok();
}

Result<segment::OpNum> Collection::Fence(uint32_t shard, uint64_t orderer) {
  const auto deadline = std::chrono::steady_clock::now() + kFenceWait;
  for (;;) {
    std::shared_ptr<const Layout> layout = this->layout();
    // Without a replica here (yet), this peer cannot have ordered anything.
    if (!CheckLocalReplica(*layout, shard, true, "").ok()) return segment::OpNum{0};
    if (OrdererOf(*layout, shard) == orderer) break;
    if (std::chrono::steady_clock::now() > deadline) {
      QD_LOG_WARN("collection " + name_ + ", shard " + std::to_string(shard) + ": peer " +
                  std::to_string(orderer) + " takes over its ordering, which this view (peer " +
                  std::to_string(OrdererOf(*layout, shard)) + ") does not show yet");
      return Status::Unavailable("Collection `" + name_ + "`, shard " + std::to_string(shard) +
                                 ": peer " + std::to_string(layout->self_peer) +
                                 " does not see peer " + std::to_string(orderer) +
                                 " as its ordering replica yet");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Writes that passed the ordering check before this view arrived end first.
  std::unique_lock<std::shared_timed_mutex> ordering(OrderingMutex(shard), std::defer_lock);
  if (!ordering.try_lock_for(kFenceWait)) {
    QD_LOG_WARN("collection " + name_ + ", shard " + std::to_string(shard) + ": peer " +
                std::to_string(orderer) +
                " takes over its ordering, but writes in flight here did not end in time");
    return Status::Unavailable("Collection `" + name_ + "`: writes in flight did not end in time");
  }
  {
    std::lock_guard<std::mutex> lock(handover_mu_);
    fenced_.erase(shard);
  }
  std::shared_ptr<const Layout> layout = this->layout();
  if (shard >= layout->local.size() || !layout->local[shard]) return segment::OpNum{0};
  return layout->local[shard]->replica->last_op();
}

Result<std::vector<replica::LocalReplica::NumberedOp>> Collection::ReadOps(
    uint32_t shard, segment::OpNum from, segment::OpNum to) const {
  std::shared_ptr<const Layout> layout = this->layout();
  Status s = CheckLocalReplica(*layout, shard, true, "");
  if (!s.ok()) return s;
  return layout->local[shard]->replica->ReadOps(from, to);
}

Result<std::optional<ReplicaClock>> Collection::TransferReady(uint32_t shard, uint64_t from) const {
  std::shared_ptr<const Layout> layout = this->layout();
  const bool ready = layout->HasTransfer(shard, from, layout->self_peer);
  Status s = CheckLocalReplica(
      *layout, shard, ready,
      " and has not applied the start of the transfer from peer " + std::to_string(from) + " yet");
  if (!s.ok()) return s;
  if (layout->lost[shard]) return std::optional<ReplicaClock>();
  Result<std::optional<replica::LocalReplica::Clock>> clock =
      layout->local[shard]->replica->LastClock();
  if (!clock.ok()) return clock.status();
  if (!*clock) return std::optional<ReplicaClock>();
  return std::optional<ReplicaClock>(ReplicaClock{(*clock)->op, (*clock)->hash});
}

Status Collection::ResetForTransfer(uint32_t shard, segment::OpNum base,
                                    const std::vector<std::string>& indexes) {
  std::shared_ptr<const Layout> layout = this->layout();
  if (shard >= layout->local.size() || !layout->local[shard]) {
    return Status::NotFound("peer " + std::to_string(layout->self_peer) +
                            " holds no replica of it");
  }
  replica::LocalReplica& replica = *layout->local[shard]->replica;
  // Whatever it held (a Dead replica's old data) goes: the transfer brings everything.
  if (Status s = replica.ResetTo(base); !s.ok()) return s;
  for (const std::string& body : indexes) {
    Result<Operation> op = segment::Decode(body);
    if (!op.ok()) return op.status();
    if (Status s = replica.ApplyTransferred(*op, {}); !s.ok()) return s;
  }
  QD_LOG_INFO("collection " + name_ + ": the local replica of shard " + std::to_string(shard) +
              " receives a transfer from op " + std::to_string(base));
  return Status::Ok();
}

bool Collection::SendsTransfer(uint32_t shard, uint64_t to) const {
  std::shared_ptr<const Layout> layout = this->layout();
  return layout->HasTransfer(shard, layout->self_peer, to);
}

Result<size_t> Collection::BeginTransfer(uint32_t shard, uint64_t to, PeerLink::Done done) {
  std::shared_ptr<const Layout> layout = this->layout();
  Status s = CheckLocalReplica(*layout, shard, layout->HasTransfer(shard, layout->self_peer, to),
                               " and sends no transfer to that peer");
  if (!s.ok()) return s;
  // A stream that failed in an earlier attempt must not fail this one.
  link_->ResetReplication(to, name_, shard);
  size_t total = 0;
  s = layout->local[shard]->replica->WithQuiescedLog(
      [&](segment::OpNum last, const segment::Segment& seg) {
        {
          std::lock_guard<std::mutex> lock(forwards_mu_);
          std::vector<uint64_t>& receivers = forwards_[shard];
          if (std::find(receivers.begin(), receivers.end(), to) == receivers.end())
            receivers.push_back(to);
        }
        StreamItem reset;
        reset.kind = StreamItem::Kind::kTransferReset;
        reset.op_num = last;
        for (const segment::Segment::FieldIndexInfo& info : seg.FieldIndexes()) {
          Operation op;
          op.kind = OpKind::kCreateFieldIndex;
          op.field_name = info.field;
          op.field_schema_json = info.SchemaJson();
          reset.indexes.push_back(segment::Encode(op));
        }
        total = seg.points_count();
        link_->Replicate(to, name_, shard, layout->self_peer, std::move(reset), std::move(done));
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return total;
}

Result<size_t> Collection::BeginDeltaTransfer(uint32_t shard, uint64_t to,
                                              const ReplicaClock& receiver, PeerLink::Done done,
                                              bool from_snapshot) {
  std::shared_ptr<const Layout> layout = this->layout();
  Status s = CheckLocalReplica(*layout, shard, layout->HasTransfer(shard, layout->self_peer, to),
                               " and sends no transfer to that peer");
  if (!s.ok()) return s;
  replica::LocalReplica& replica = *layout->local[shard]->replica;
  const std::string op = "op " + std::to_string(receiver.op);
  if (receiver.op > replica.last_op()) {
    return Status::FailedPrecondition(
        "the receiver holds ops up to " + std::to_string(receiver.op) +
        ", past this replica's last op " + std::to_string(replica.last_op()));
  }
  link_->ResetReplication(to, name_, shard);
  size_t sent = 0;
  // After a snapshot the receiver holds this replica's ops up to receiver.op by construction:
  // only the ops after it are read (the WAL may not hold op receiver.op itself).
  const size_t first = from_snapshot ? 0 : 1;
  s = replica.WithQuiescedOps(
      receiver.op + (from_snapshot ? 1 : 0),
      [&](segment::OpNum, std::vector<replica::LocalReplica::NumberedOp> ops) -> Status {
        // The receiver's last op must be this replica's op of that number: then it holds
        // exactly this replica's ops up to there (every op a replica logs follows the one
        // before it in one numbering: LocalReplica::ApplyReplicated), and misses the rest.
        if (!from_snapshot && (ops.empty() || ops[0].op_num != receiver.op ||
                               replica::LocalReplica::OpHash(ops[0].body) != receiver.hash)) {
          return Status::FailedPrecondition("the receiver's " + op + " is not this replica's " +
                                            op);
        }
        {
          std::lock_guard<std::mutex> lock(forwards_mu_);
          std::vector<uint64_t>& receivers = forwards_[shard];
          if (std::find(receivers.begin(), receivers.end(), to) == receivers.end())
            receivers.push_back(to);
        }
        for (size_t i = first; i < ops.size(); ++i) {
          StreamItem item;
          item.op_num = ops[i].op_num;
          item.body = std::move(ops[i].body);
          // A stream fails every item after a failed one, so the last one's answer covers all.
          PeerLink::Done answer = i + 1 == ops.size() ? done : [](Status) {};
          link_->Replicate(to, name_, shard, layout->self_peer, std::move(item), std::move(answer));
        }
        sent = ops.size() - first;
        return Status::Ok();
      });
  if (s.code() == StatusCode::kNotFound) {
    return Status::FailedPrecondition(
        "this replica's WAL no longer holds every op after the "
        "receiver's " +
        op + " (" + s.message() + ")");
  }
  if (!s.ok()) return s;
  if (sent == 0) done(Status::Ok());  // the receiver misses nothing
  return sent;
}

Result<bool> Collection::SendTransferBatch(uint32_t shard, uint64_t to, size_t limit,
                                           TransferCursor& cursor, PeerLink::Done done) {
  std::shared_ptr<const Layout> layout = this->layout();
  Status s = CheckLocalReplica(*layout, shard, layout->HasTransfer(shard, layout->self_peer, to),
                               " and sends no transfer to that peer");
  if (!s.ok()) return s;
  segment::Projection all;
  all.all_vectors = true;
  all.payload = [](const rapidjson::Value& in, rapidjson::Value& o,
                   rapidjson::Document::AllocatorType& a) { o.CopyFrom(in, a); };
  bool sent = false;
  s = layout->local[shard]->replica->WithQuiescedLog(
      [&](segment::OpNum, const segment::Segment& seg) {
        RecordBatch batch = seg.Scroll(cursor.next, limit + 1, nullptr, all);
        cursor.next.reset();
        if (batch.points.size() > limit) {
          cursor.next = batch.points[limit].id;
          batch.points.resize(limit);
        }
        cursor.done = !cursor.next;
        if (batch.points.empty()) return Status::Ok();
        StreamItem item;
        item.kind = StreamItem::Kind::kTransferPoints;
        Operation op;
        op.kind = OpKind::kUpsert;
        for (segment::PointRecord& r : batch.points) {
          segment::PointStruct p;
          p.id = r.id;
          p.vectors = std::move(r.vectors);
          rapidjson::StringBuffer text;
          rapidjson::Writer<rapidjson::StringBuffer> writer(text);
          if (r.has_payload && r.payload.IsObject()) {
            r.payload.Accept(writer);
            p.payload_json.assign(text.GetString(), text.GetSize());
          }
          op.points.push_back(std::move(p));
          item.versions.push_back(r.version);
        }
        item.body = segment::Encode(op);
        cursor.points += op.points.size();
        cursor.bytes += item.body.size();
        sent = true;
        link_->Replicate(to, name_, shard, layout->self_peer, std::move(item), std::move(done));
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return sent;
}

Result<replica::LocalReplica::Snapshot> Collection::CaptureTransferSnapshot(
    uint32_t shard, uint64_t to, const std::string& out_dir) {
  std::shared_ptr<const Layout> layout = this->layout();
  Status s = CheckLocalReplica(*layout, shard, layout->HasTransfer(shard, layout->self_peer, to),
                               " and sends no transfer to that peer");
  if (!s.ok()) return s;
  return layout->local[shard]->replica->CaptureSnapshot(out_dir);
}

std::string Collection::TransferStagingDir(const std::string& what) const {
  return dir_ + "/.transfer-" + what;
}

Result<InstalledSnapshot> Collection::ReceiveTransferSnapshot(const SnapshotChunk& chunk) {
  namespace fs = std::filesystem;
  {
    std::shared_ptr<const Layout> layout = this->layout();
    Status s = CheckLocalReplica(*layout, chunk.shard,
                                 layout->HasTransfer(chunk.shard, chunk.from, layout->self_peer),
                                 " and has not applied the start of the transfer from peer " +
                                     std::to_string(chunk.from) + " yet");
    if (!s.ok()) return s;
  }
  if (!chunk.install && !replica::LocalReplica::IsSnapshotFile(chunk.file)) {
    return Status::InvalidArgument("a shard snapshot holds no file named `" + chunk.file + "`");
  }
  std::lock_guard<std::mutex> lock(incoming_mu_);
  const std::string staged = TransferStagingDir("in-" + std::to_string(chunk.shard));
  std::error_code ec;
  auto it = incoming_.find(chunk.shard);
  if (it == incoming_.end() || it->second != chunk.session) {
    // A new attempt: what an older one sent goes.
    fs::remove_all(staged, ec);
    fs::create_directories(staged, ec);
    if (ec) return Status::Internal("cannot create " + staged + ": " + ec.message());
    incoming_[chunk.shard] = chunk.session;
  }
  if (chunk.install) {
    incoming_.erase(chunk.shard);
    Result<InstalledSnapshot> installed = InstallTransferSnapshot(chunk.shard, chunk.from, staged);
    fs::remove_all(staged, ec);
    return installed;
  }
  const std::string path = staged + "/" + chunk.file;
  const uint64_t held = fs::exists(path, ec) ? fs::file_size(path, ec) : 0;
  if (held != chunk.offset) {
    return Status::FailedPrecondition("the receiver holds " + std::to_string(held) + " bytes of " +
                                      chunk.file + ", not " + std::to_string(chunk.offset));
  }
  std::FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) return Status::Internal("cannot open " + path + ": " + std::strerror(errno));
  const bool written = std::fwrite(chunk.data.data(), 1, chunk.data.size(), f) == chunk.data.size();
  const bool closed = std::fclose(f) == 0;
  if (!written || !closed)
    return Status::Internal("cannot write " + path + ": " + std::strerror(errno));
  return InstalledSnapshot{};
}

Result<InstalledSnapshot> Collection::InstallTransferSnapshot(uint32_t shard, uint64_t from,
                                                              const std::string& staged) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(staged + "/points.db", ec)) {
    return Status::FailedPrecondition("the shard snapshot sent has no points.db");
  }
  // Durable before it becomes the replica; marked incomplete until its transfer finishes (a
  // later wal_delta must not trust a replica whose transfer did not end).
  {
    Result<std::unique_ptr<sqlite::Db>> wal =
        sqlite::Db::Open(staged + "/wal.db", sqlite::Db::Sync::kFull);
    if (!wal.ok()) return wal.status().WithContext("the shard snapshot's wal.db");
    Status s = (*wal)->Exec(
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL); "
        "INSERT OR REPLACE INTO meta VALUES('incomplete', 1)");
    if (!s.ok()) return s.WithContext("the shard snapshot's wal.db");
  }
  for (const fs::directory_entry& e : fs::directory_iterator(staged, ec)) {
    if (Status s = FsyncPath(e.path().string()); !s.ok()) return s;
  }
  std::lock_guard<std::mutex> lock(placement_mu_);
  std::shared_ptr<const Layout> old = layout();
  Status s =
      CheckLocalReplica(*old, shard, old->HasTransfer(shard, from, old->self_peer),
                        " and no longer receives the transfer from peer " + std::to_string(from));
  if (!s.ok()) return s;
  const uint64_t self_peer = old->self_peer;
  old.reset();  // the old replica must close
  // A Partial replica answers no reads and receives no writes before its source starts the
  // delta, so nothing waits on the old one.
  Result<std::shared_ptr<Slot>> opened = ReplaceLocalReplica(shard, staged, "", "snapshot");
  if (!opened.ok()) return opened.status().WithContext("the snapshot received");
  ListenToLog(**opened, shard, self_peer);
  const InstalledSnapshot installed{(*opened)->replica->last_op(),
                                    (*opened)->replica->segment().points_count()};
  auto done = std::make_shared<Layout>(*layout());
  done->local[shard] = std::move(*opened);
  layout_.store(std::move(done));
  const segment::OpNum checkpoint = (*layout()->local[shard]).replica->segment().index_op();
  QD_LOG_INFO(
      "collection " + name_ + ": the local replica of shard " + std::to_string(shard) +
      " is a snapshot from peer " + std::to_string(from) + " (" + std::to_string(installed.points) +
      " points, op " + std::to_string(installed.last_op) + ", " +
      (checkpoint > 0 ? "graphs from its index checkpoint at op " + std::to_string(checkpoint)
                      : std::string("graphs rebuilt from its points")) +
      ")");
  return installed;
}

void Collection::EndTransfer(uint32_t shard, uint64_t to) {
  std::lock_guard<std::mutex> lock(forwards_mu_);
  auto it = forwards_.find(shard);
  if (it == forwards_.end()) return;
  std::erase(it->second, to);
  if (it->second.empty()) forwards_.erase(it);
}

size_t Collection::Count(const segment::PointFilter* filter) const {
  size_t n = 0;
  const std::shared_ptr<const Layout> held = layout();  // alive through the loop
  for (const auto& slot : held->local) {
    if (slot) n += slot->replica->segment().Count(filter);
  }
  return n;
}

size_t Collection::points_count() const { return Count(nullptr); }

std::string Collection::PayloadSchemaJson() const {
  // Definitions are the same on every shard; points are summed.
  std::map<std::string, segment::Segment::FieldIndexInfo> merged;
  const std::shared_ptr<const Layout> held = layout();  // alive through the loop
  for (const auto& slot : held->local) {
    if (!slot) continue;
    for (segment::Segment::FieldIndexInfo& info : slot->replica->segment().FieldIndexes()) {
      auto [it, inserted] = merged.emplace(info.field, info);
      if (!inserted) it->second.points += info.points;
    }
  }
  std::string out = "{";
  for (const auto& [field, info] : merged) {
    if (out.size() > 1) out += ",";
    rapidjson::StringBuffer key;
    rapidjson::Writer<rapidjson::StringBuffer> w(key);
    w.String(field.data(), static_cast<rapidjson::SizeType>(field.size()));
    out += std::string(key.GetString(), key.GetSize()) + ":{\"data_type\":\"" + info.data_type +
           "\"," + (info.params_json ? "\"params\":" + *info.params_json + "," : std::string()) +
           "\"points\":" + std::to_string(info.points) + "}";
  }
  return out + "}";
}

// ---- reads ----

Result<ShardReadResult> Collection::ReadSlot(const Slot& slot, const ShardRead& read) const {
  const segment::Segment& seg = slot.replica->segment();
  const segment::PointFilter* filter = read.filter ? &read.filter : nullptr;
  ShardReadResult out;
  switch (read.kind) {
    case ShardRead::Kind::kCount:
      out.count = seg.Count(filter);
      return out;
    case ShardRead::Kind::kRetrieve:
      out.records = seg.Retrieve(read.ids, read.projection);
      return out;
    case ShardRead::Kind::kScroll:
      out.records = seg.Scroll(read.from, read.limit, filter, read.projection);
      return out;
    case ShardRead::Kind::kScrollOrdered: {
      if (!read.order_by) return Status::InvalidArgument("scroll ordered without order_by");
      if (!seg.HasOrderByIndex(read.order_by->path))
        return segment::NoRangeIndexForOrderBy(read.order_by->key);
      Result<RecordBatch> part =
          seg.ScrollOrdered(*read.order_by, read.limit, filter, read.projection);
      if (!part.ok()) return part.status();
      out.records = std::move(*part);
      return out;
    }
    case ShardRead::Kind::kSearch: {
      segment::SearchSpec spec = read.search;
      spec.filter = filter;
      Result<RecordBatch> part = seg.Search(spec, read.projection);
      if (!part.ok()) return part.status();
      out.records = std::move(*part);
      return out;
    }
  }
  return Status::InvalidArgument("unknown read kind");
}

namespace {
uint64_t Fnv1a64(std::string_view bytes, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}
}  // namespace

Result<ReplicaDigest> Collection::Digest(uint32_t shard) const {
  std::shared_ptr<const Layout> layout = this->layout();
  if (Status s = CheckLocalReplica(*layout, shard, true, ""); !s.ok()) return s;
  segment::Projection all;
  all.all_vectors = true;
  all.payload = [](const rapidjson::Value& in, rapidjson::Value& o,
                   rapidjson::Document::AllocatorType& a) { o.CopyFrom(in, a); };
  ReplicaDigest d;
  Status s = layout->local[shard]->replica->WithQuiescedLog(
      [&](segment::OpNum op, const segment::Segment& seg) {
        d.op = op;
        std::optional<segment::PointId> next;
        do {
          // Each point as a transfer sends it (Encode of a one-point upsert) and its version.
          RecordBatch batch = seg.Scroll(next, 1025, nullptr, all);
          next.reset();
          if (batch.points.size() > 1024) {
            next = batch.points[1024].id;
            batch.points.resize(1024);
          }
          for (segment::PointRecord& r : batch.points) {
            Operation one;
            one.kind = OpKind::kUpsert;
            segment::PointStruct p;
            p.id = r.id;
            p.vectors = std::move(r.vectors);
            if (r.has_payload && r.payload.IsObject()) {
              rapidjson::StringBuffer text;
              rapidjson::Writer<rapidjson::StringBuffer> writer(text);
              r.payload.Accept(writer);
              p.payload_json.assign(text.GetString(), text.GetSize());
            }
            one.points.push_back(std::move(p));
            const uint64_t version = r.version;
            const uint64_t h = Fnv1a64(
                segment::Encode(one),
                Fnv1a64(std::string_view(reinterpret_cast<const char*>(&version), sizeof version)));
            ++d.points;
            d.sum += h;
            d.xor_ ^= h;
          }
        } while (next);
        return Status::Ok();
      });
  if (!s.ok()) return s;
  return d;
}

std::vector<Collection::VerifiedReplica> Collection::Verify() const {
  std::shared_ptr<const Layout> layout = this->layout();
  std::vector<VerifiedReplica> out;
  // The other peers' digests in parallel: a paused peer costs one P2P deadline, not one each.
  std::vector<std::future<Result<ReplicaDigest>>> remote;
  const size_t shards = std::max(layout->local.size(), layout->others.size());
  for (uint32_t shard = 0; shard < shards; ++shard) {
    if (shard >= layout->others.size()) continue;
    for (const auto& [peer, state] : layout->others[shard]) {
      out.push_back({shard, peer, state, Status::Unavailable("no P2P link")});
      if (link_) {
        remote.push_back(std::async(std::launch::async, [this, peer = peer, shard] {
          return link_->Digest(peer, name_, shard);
        }));
      }
    }
  }
  for (uint32_t shard = 0; shard < shards; ++shard) {
    if (shard < layout->local.size() && layout->local[shard]) {
      out.push_back({shard, layout->self_peer, layout->local_state[shard], Digest(shard)});
    }
  }
  for (size_t i = 0; i < remote.size(); ++i) out[i].digest = remote[i].get();
  std::sort(out.begin(), out.end(), [](const VerifiedReplica& a, const VerifiedReplica& b) {
    return std::pair(a.shard, a.peer) < std::pair(b.shard, b.peer);
  });
  return out;
}

Result<ShardReadResult> Collection::ReadLocal(uint32_t shard, const ShardRead& read) const {
  std::shared_ptr<const Layout> layout = this->layout();
  // A Listener never answers reads; a coordinator that picked this replica as Active while
  // this peer still sees it Listener tries the next one.
  const bool allowed =
      !layout->placed ||
      (shard < layout->local_state.size() && shard::HoldsAllWrites(layout->local_state[shard]) &&
       layout->local_state[shard] != shard::ReplicaState::kListener && !layout->lost[shard]);
  Status s = CheckLocalReplica(*layout, shard, allowed, " and answers no reads");
  if (!s.ok()) return s;
  return ReadSlot(*layout->local[shard], read);
}

Result<std::vector<ShardReadResult>> Collection::ReadShards(
    const Layout& layout, const std::vector<uint32_t>& shards, const std::vector<ShardRead>& reads,
    const ReadConsistency& consistency) const {
  if (Status known = CheckKnown(layout); !known.ok()) return known;
  std::vector<ShardReadResult> results(shards.size());
  if (layout.placed && !consistency.single()) {
    return ReadShardsFromSeveral(layout, shards, reads, consistency);
  }
  if (!layout.placed) {
    for (size_t i = 0; i < shards.size(); ++i) {
      Result<ShardReadResult> r = ReadSlot(*layout.local[shards[i]], reads[i]);
      if (!r.ok()) return r.status();
      results[i] = std::move(*r);
    }
    return results;
  }
  // Candidates per shard: replicas that accept reads, the local one first, then the others by
  // peer id; then, as WriteShard explains, Initializing ones.
  std::vector<std::vector<uint64_t>> candidates(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    const uint32_t s = shards[i];
    for (bool fallback : {false, true}) {
      auto eligible = [fallback](shard::ReplicaState st) {
        return fallback ? st == shard::ReplicaState::kInitializing : shard::AcceptsReads(st);
      };
      if (layout.local[s] && eligible(layout.local_state[s]) && !layout.lost[s])
        candidates[i].push_back(layout.self_peer);
      for (const auto& [peer, state] : layout.others[s]) {
        if (eligible(state)) candidates[i].push_back(peer);
      }
    }
    if (candidates[i].empty()) {
      Replicas all = layout.others[s];
      if (layout.local[s]) all.emplace_back(layout.self_peer, layout.local_state[s]);
      const std::string where = "Collection `" + name_ + "`, shard " + std::to_string(s);
      if (all.empty())
        return Status::Unavailable(where + ": no peer holds a replica of this shard");
      return Status::Unavailable(
          where + ": no replica can answer reads (replicas: " + StatesText(all) + ")");
    }
  }
  // Remote first choices go out at once; local reads run meanwhile; failures of a remote replica
  // try the next candidate within the same request.
  std::vector<std::future<Result<ShardReadResult>>> pending(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    if (candidates[i][0] != layout.self_peer) {
      pending[i] = link_->Read(candidates[i][0], name_, shards[i], reads[i]);
    }
  }
  Status first_error;
  for (size_t i = 0; i < shards.size(); ++i) {
    Result<ShardReadResult> r = Status::Unavailable("unread");
    size_t tried = 0;
    if (candidates[i][0] == layout.self_peer) {
      r = ReadSlot(*layout.local[shards[i]], reads[i]);
      tried = 1;
    } else {
      r = pending[i].get();
      tried = 1;
    }
    while (!r.ok() && tried < candidates[i].size() &&
           (r.status().code() == StatusCode::kUnavailable ||
            r.status().code() == StatusCode::kNotFound)) {
      QD_LOG_WARN("collection " + name_ + ", shard " + std::to_string(shards[i]) +
                  ": reading from peer " + std::to_string(candidates[i][tried - 1]) +
                  " failed, trying peer " + std::to_string(candidates[i][tried]) + ": " +
                  r.status().message());
      r = link_->Read(candidates[i][tried], name_, shards[i], reads[i]).get();
      ++tried;
    }
    if (!r.ok()) {
      if (first_error.ok()) first_error = r.status();
      continue;  // the other futures are still collected before returning
    }
    results[i] = std::move(*r);
  }
  if (!first_error.ok()) return first_error;
  return results;
}

Result<std::vector<ShardReadResult>> Collection::ReadShardsFromSeveral(
    const Layout& layout, const std::vector<uint32_t>& shards, const std::vector<ShardRead>& reads,
    const ReadConsistency& consistency) const {
  // Every shard's replicas that accept reads, by peer id (not local first: which replicas a
  // quorum asks must not depend on the peer that coordinates), asked in parallel.
  struct Asked {
    uint64_t peer;
    std::future<Result<ShardReadResult>> answer;
  };
  std::vector<std::vector<uint64_t>> readable(shards.size());
  std::vector<ReadQuorum> quorum(shards.size());
  std::vector<std::vector<Asked>> asked(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    const uint32_t s = shards[i];
    if (layout.local[s] && shard::AcceptsReads(layout.local_state[s]) && !layout.lost[s]) {
      readable[i].push_back(layout.self_peer);
    }
    for (const auto& [peer, state] : layout.others[s]) {
      if (shard::AcceptsReads(state)) readable[i].push_back(peer);
    }
    std::sort(readable[i].begin(), readable[i].end());
    quorum[i] = QuorumFor(consistency, readable[i].size());
    if (readable[i].empty()) {
      return Status::Unavailable("Collection `" + name_ + "`, shard " + std::to_string(s) +
                                 ": no replica can answer reads");
    }
  }
  auto ask = [&](size_t i, uint64_t peer) {
    if (peer != layout.self_peer) return link_->Read(peer, name_, shards[i], reads[i]);
    std::promise<Result<ShardReadResult>> local;
    local.set_value(ReadSlot(*layout.local[shards[i]], reads[i]));
    return local.get_future();
  };
  // Remote reads go out first, so that they run while the local one does.
  for (bool local_pass : {false, true}) {
    for (size_t i = 0; i < shards.size(); ++i) {
      for (size_t k = 0; k < quorum[i].required; ++k) {
        const uint64_t peer = readable[i][k];
        if ((peer == layout.self_peer) == local_pass) asked[i].push_back({peer, ask(i, peer)});
      }
    }
  }
  std::vector<ShardReadResult> results(shards.size());
  for (size_t i = 0; i < shards.size(); ++i) {
    std::vector<std::pair<uint64_t, ShardReadResult>> answers;
    Status last_error;
    size_t next = quorum[i].required;  // a failed replica is replaced by the next one, if any
    for (size_t k = 0; k < asked[i].size(); ++k) {
      Result<ShardReadResult> r = asked[i][k].answer.get();
      if (r.ok()) {
        answers.emplace_back(asked[i][k].peer, std::move(*r));
        continue;
      }
      last_error = r.status();
      if (r.status().code() != StatusCode::kUnavailable &&
          r.status().code() != StatusCode::kNotFound) {
        return r.status();
      }
      if (next < readable[i].size()) {
        const uint64_t peer = readable[i][next++];
        asked[i].push_back({peer, ask(i, peer)});
      }
    }
    if (answers.size() < quorum[i].required) {
      return Status::Unavailable("Collection `" + name_ + "`, shard " + std::to_string(shards[i]) +
                                 ": read consistency `" + consistency.ToString() + "` needs " +
                                 std::to_string(quorum[i].required) + " replicas to answer, " +
                                 std::to_string(answers.size()) + " of " +
                                 std::to_string(readable[i].size()) +
                                 " did: " + last_error.message());
    }
    std::sort(answers.begin(), answers.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<ShardReadResult> ordered;
    for (auto& [peer, answer] : answers) ordered.push_back(std::move(answer));
    results[i] = ResolveAnswers(reads[i], std::move(ordered), quorum[i].keep_all);
  }
  return results;
}

namespace {
// Moves records of `from` into `to`, copying payloads into to's arena.
void Absorb(RecordBatch& to, RecordBatch& from) {
  for (segment::PointRecord& r : from.points) {
    if (r.has_payload) r.payload = rapidjson::Value(r.payload, to.Allocator());
    to.points.push_back(std::move(r));
  }
}
}  // namespace

Result<size_t> Collection::CountPoints(const segment::PointFilter* filter,
                                       const ReadConsistency& consistency) const {
  std::shared_ptr<const Layout> layout = this->layout();
  std::vector<uint32_t> shards = AllShards(*layout);
  ShardRead read;
  read.kind = ShardRead::Kind::kCount;
  if (filter) read.filter = *filter;
  Result<std::vector<ShardReadResult>> parts =
      ReadShards(*layout, shards, std::vector<ShardRead>(shards.size(), read), consistency);
  if (!parts.ok()) return parts.status();
  size_t n = 0;
  for (const ShardReadResult& part : *parts) n += part.count;
  return n;
}

Result<RecordBatch> Collection::Retrieve(const std::vector<PointId>& ids,
                                         const segment::Projection& projection,
                                         const ReadConsistency& consistency) const {
  std::shared_ptr<const Layout> layout = this->layout();
  const size_t shard_count = layout->local.size();
  std::map<uint32_t, ShardRead> by_shard;
  for (const PointId& id : ids) {
    ShardRead& read = by_shard[static_cast<uint32_t>(ShardOf(id, shard_count))];
    read.kind = ShardRead::Kind::kRetrieve;
    read.projection = projection;
    read.ids.push_back(id);
  }
  std::vector<uint32_t> shards;
  std::vector<ShardRead> reads;
  for (auto& [shard, read] : by_shard) {
    shards.push_back(shard);
    reads.push_back(std::move(read));
  }
  Result<std::vector<ShardReadResult>> parts = ReadShards(*layout, shards, reads, consistency);
  if (!parts.ok()) return parts.status();
  // In the order the ids were asked for (a repeated id once per time it was asked).
  std::map<PointId, std::pair<size_t, size_t>> where;  // id -> (part, record)
  for (size_t p = 0; p < parts->size(); ++p) {
    for (size_t r = 0; r < (*parts)[p].records.points.size(); ++r) {
      where.emplace((*parts)[p].records.points[r].id, std::make_pair(p, r));
    }
  }
  RecordBatch out;
  for (const PointId& id : ids) {
    auto it = where.find(id);
    if (it == where.end()) continue;
    const segment::PointRecord& found =
        (*parts)[it->second.first].records.points[it->second.second];
    segment::PointRecord r;
    r.id = found.id;
    r.version = found.version;
    r.score = found.score;
    r.distance = found.distance;
    r.has_payload = found.has_payload;
    if (found.has_payload) r.payload = rapidjson::Value(found.payload, out.Allocator());
    r.has_vectors = found.has_vectors;
    r.vectors = found.vectors;
    r.offset = found.offset;
    r.order_value = found.order_value;
    out.points.push_back(std::move(r));
  }
  return out;
}

Result<RecordBatch> Collection::Scroll(const std::optional<PointId>& from, size_t limit,
                                       const segment::PointFilter* filter,
                                       const segment::Projection& projection,
                                       std::optional<PointId>& next_offset,
                                       const ReadConsistency& consistency) const {
  std::shared_ptr<const Layout> layout = this->layout();
  std::vector<uint32_t> shards = AllShards(*layout);
  ShardRead read;
  read.kind = ShardRead::Kind::kScroll;
  if (filter) read.filter = *filter;
  read.projection = projection;
  read.from = from;
  read.limit = limit + 1;
  Result<std::vector<ShardReadResult>> parts =
      ReadShards(*layout, shards, std::vector<ShardRead>(shards.size(), read), consistency);
  if (!parts.ok()) return parts.status();
  RecordBatch merged;
  if (parts->size() == 1) {
    merged = std::move((*parts)[0].records);
  } else {
    for (ShardReadResult& part : *parts) Absorb(merged, part.records);
    std::sort(merged.points.begin(), merged.points.end(),
              [](const segment::PointRecord& a, const segment::PointRecord& b) { return a.id < b.id; });
  }
  next_offset.reset();
  if (merged.points.size() > limit) {
    next_offset = merged.points[limit].id;
    merged.points.resize(limit);
  }
  return merged;
}

Result<RecordBatch> Collection::ScrollOrdered(const segment::OrderBy& order_by,
                                              const std::optional<PointId>& from, size_t limit,
                                              const segment::PointFilter* filter,
                                              const segment::Projection& projection,
                                              const ReadConsistency& consistency) const {
  std::shared_ptr<const Layout> layout = this->layout();
  std::vector<uint32_t> shards = AllShards(*layout);
  ShardRead read;
  read.kind = ShardRead::Kind::kScrollOrdered;
  if (filter) read.filter = *filter;
  read.projection = projection;
  read.order_by = order_by;
  // Qdrant checks the index (each shard's answer) before the offset.
  read.limit = from ? 0 : limit;
  Result<std::vector<ShardReadResult>> parts =
      ReadShards(*layout, shards, std::vector<ShardRead>(shards.size(), read), consistency);
  if (!parts.ok()) return parts.status();
  if (from) {
    return Status::InvalidArgument(
        "Bad request: Cannot use an `offset` when using `order_by`. The alternative for paging is "
        "to use `order_by.start_from` and a filter to exclude the IDs that you've already seen "
        "for the `order_by.start_from` value");
  }
  RecordBatch merged;
  if (parts->size() == 1) {
    merged = std::move((*parts)[0].records);
  } else {
    for (ShardReadResult& part : *parts) Absorb(merged, part.records);
  }
  const bool descending = order_by.descending;
  std::stable_sort(merged.points.begin(), merged.points.end(),
                   [descending](const segment::PointRecord& a, const segment::PointRecord& b) {
                     return segment::OrderedBefore(a, b, descending);
                   });
  auto repeats = [](const segment::PointRecord& a, const segment::PointRecord& b) {
    return a.id == b.id;
  };
  merged.points.erase(std::unique(merged.points.begin(), merged.points.end(), repeats),
                      merged.points.end());
  if (merged.points.size() > limit) merged.points.resize(limit);
  return merged;
}

Result<RecordBatch> Collection::QueryOrdered(const segment::OrderBy& order_by, size_t offset,
                                             size_t limit, const segment::PointFilter* filter,
                                             const segment::Projection& projection,
                                             const ReadConsistency& consistency) const {
  Result<RecordBatch> page =
      ScrollOrdered(order_by, std::nullopt, offset + limit, filter, projection, consistency);
  if (!page.ok()) return page;
  auto& points = page->points;
  points.erase(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(std::min(offset, points.size())));
  return page;
}

Result<RecordBatch> Collection::QueryListed(size_t offset, size_t limit,
                                            const segment::PointFilter* filter,
                                            const segment::Projection& projection,
                                            const ReadConsistency& consistency) const {
  std::optional<PointId> next;
  Result<RecordBatch> page =
      Scroll(std::nullopt, offset + limit, filter, projection, next, consistency);
  if (!page.ok()) return page;
  auto& points = page->points;
  points.erase(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(std::min(offset, points.size())));
  return page;
}

Result<RecordBatch> Collection::Search(const segment::SearchSpec& spec,
                                       const segment::Projection& projection,
                                       const ReadConsistency& consistency) const {
  std::shared_ptr<const Layout> layout = this->layout();
  std::vector<uint32_t> shards = AllShards(*layout);
  ShardRead read;
  read.kind = ShardRead::Kind::kSearch;
  if (spec.filter) read.filter = *spec.filter;
  read.projection = projection;
  read.search = spec;
  read.search.filter = nullptr;
  Result<std::vector<ShardReadResult>> parts =
      ReadShards(*layout, shards, std::vector<ShardRead>(shards.size(), read), consistency);
  if (!parts.ok()) return parts.status();
  RecordBatch merged;
  if (parts->size() == 1) {
    merged = std::move((*parts)[0].records);  // already in this order, limit + offset long
  } else {
    for (ShardReadResult& part : *parts) Absorb(merged, part.records);
  }
  std::vector<segment::PointRecord>& points = merged.points;
  if (parts->size() > 1) {
    std::sort(points.begin(), points.end(),
              [](const segment::PointRecord& a, const segment::PointRecord& b) {
                return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
              });
  }
  const size_t begin = std::min(spec.offset, points.size());
  const size_t end = std::min(spec.offset + spec.limit, points.size());
  points.erase(points.begin() + static_cast<std::ptrdiff_t>(end), points.end());
  points.erase(points.begin(), points.begin() + static_cast<std::ptrdiff_t>(begin));
  return merged;
}

Status Collection::Flush() {
  const std::shared_ptr<const Layout> held = layout();  // alive through the loop
  for (const auto& slot : held->local) {
    if (!slot) continue;
    Status s = slot->replica->Flush();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace qd::collection
