#include "qdrantd/consensus/raft_io.h"

#include <cstring>

#include "libshared/log.h"
#include "qdrantd/consensus/codec.h"

namespace qd::consensus {
namespace {

using server::OnLoop;

// Copies stored entries into libraft's load layout: one raft_malloc'd batch plus an array.
raft_entry* ToRaftEntries(const std::vector<StoredEntry>& stored) {
  if (stored.empty()) return nullptr;
  size_t total = 0;
  for (const auto& e : stored) total += e.data.size();
  auto* batch = static_cast<char*>(raft_malloc(total == 0 ? 1 : total));
  auto* entries = static_cast<raft_entry*>(raft_calloc(stored.size(), sizeof(raft_entry)));
  size_t offset = 0;
  for (size_t i = 0; i < stored.size(); ++i) {
    if (!stored[i].data.empty()) std::memcpy(batch + offset, stored[i].data.data(), stored[i].data.size());
    entries[i].term = stored[i].term;
    entries[i].type = stored[i].type;
    entries[i].buf.base = batch + offset;
    entries[i].buf.len = stored[i].data.size();
    entries[i].batch = batch;
    offset += stored[i].data.size();
  }
  return entries;
}

// A raft_malloc'd snapshot with one buffer, as load and snapshot_get hand over.
raft_snapshot* ToRaftSnapshot(const StoredSnapshot& stored) {
  auto* snap = static_cast<raft_snapshot*>(raft_calloc(1, sizeof(raft_snapshot)));
  snap->index = stored.index;
  snap->term = stored.term;
  raft_configuration_init(&snap->configuration);
  if (Status s = DecodeConfiguration(stored.conf, &snap->configuration); !s.ok()) {
    QD_LOG_ERROR("raft.db snapshot: " + s.message());
  }
  snap->configuration_index = stored.conf_index;
  snap->bufs = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
  snap->n_bufs = 1;
  snap->bufs[0].base = raft_malloc(stored.data.empty() ? 1 : stored.data.size());
  snap->bufs[0].len = stored.data.size();
  if (!stored.data.empty()) std::memcpy(snap->bufs[0].base, stored.data.data(), stored.data.size());
  return snap;
}

}  // namespace

RaftIo::RaftIo(server::Loop& loop, std::string db_path, Transport* transport)
    : loop_(loop), db_path_(std::move(db_path)), transport_(transport) {
  io_.version = 2;
  io_.impl = this;
  io_.init = &RaftIo::Init;
  io_.close = &RaftIo::Close;
  io_.load = &RaftIo::Load;
  io_.start = &RaftIo::Start;
  io_.bootstrap = &RaftIo::Bootstrap;
  io_.recover = &RaftIo::Recover;
  io_.set_term = &RaftIo::SetTerm;
  io_.set_vote = &RaftIo::SetVote;
  io_.send = &RaftIo::Send;
  io_.append = &RaftIo::Append;
  io_.truncate = &RaftIo::Truncate;
  io_.snapshot_put = &RaftIo::SnapshotPut;
  io_.snapshot_get = &RaftIo::SnapshotGet;
  io_.time = &RaftIo::Time;
  io_.random = &RaftIo::Random;
  io_.async_work = &RaftIo::AsyncWork;
}

RaftIo::~RaftIo() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_worker_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

Status RaftIo::Open() {
  auto loop_store = RaftStore::Open(db_path_);
  if (!loop_store.ok()) return loop_store.status();
  auto worker_store = RaftStore::Open(db_path_);
  if (!worker_store.ok()) return worker_store.status();
  loop_store_ = std::move(loop_store.value());
  worker_store_ = std::move(worker_store.value());
  worker_ = std::thread([this] { WorkerMain(); });
  return Status::Ok();
}

void RaftIo::WorkerMain() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_worker_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and everything queued has run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

void RaftIo::Submit(std::function<void()> work, std::function<void(OnLoop)> done) {
  ++pending_;
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back([this, work = std::move(work), done = std::move(done)]() mutable {
      work();
      loop_.Post([this, done = std::move(done)](OnLoop on_loop) {
        done(on_loop);
        Finished(on_loop);
      });
    });
  }
  cv_.notify_one();
}

void RaftIo::Finished(OnLoop) {
  --pending_;
  MaybeFinishClose();
}

void RaftIo::MaybeFinishClose() {
  if (!closing_ || pending_ != 0 || timer_ != nullptr || close_cb_ == nullptr) return;
  raft_io_close_cb cb = std::exchange(close_cb_, nullptr);
  cb(&io_);
}

int RaftIo::Fail(const Status& s, int code) {
  QD_LOG_ERROR("raft io: " + s.message());
  std::snprintf(io_.errmsg, sizeof(io_.errmsg), "%s", s.message().c_str());
  return code;
}

int RaftIo::Init(raft_io* io, raft_id id, const char* address) noexcept {
  RaftIo* self = Self(io);
  self->id_ = id;
  self->address_ = address ? address : "";
  return 0;
}

void RaftIo::Close(raft_io* io, raft_io_close_cb cb) noexcept {
  RaftIo* self = Self(io);
  self->closing_ = true;
  self->close_cb_ = cb;
  self->tick_cb_ = nullptr;
  self->recv_cb_ = nullptr;
  // Sends still in flight are cancelled now; their transport callbacks find nothing later.
  // libraft's callbacks must not run inside close() itself: they are posted like all others.
  auto pending = std::move(self->sends_->pending);
  self->sends_->pending.clear();
  for (auto& [id, send] : pending) {
    ++self->pending_;
    self->loop_.Post([self, send = send](OnLoop on_loop) {
      if (send.cb) send.cb(send.req, RAFT_CANCELED);
      self->Finished(on_loop);
    });
  }
  if (self->timer_ != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(self->timer_), [](uv_handle_t* h) {
      auto* me = static_cast<RaftIo*>(h->data);
      delete reinterpret_cast<uv_timer_t*>(h);
      me->timer_ = nullptr;
      me->MaybeFinishClose();
    });
    return;
  }
  self->MaybeFinishClose();
}

int RaftIo::Load(raft_io* io, raft_term* term, raft_id* voted_for, raft_snapshot** snapshot,
                 raft_index* start_index, raft_entry** entries, size_t* n_entries) noexcept {
  RaftIo* self = Self(io);
  RaftStore& store = *self->loop_store_;
  auto t = store.GetMetaU64("term");
  auto v = store.GetMetaU64("vote");
  auto snap = store.LoadSnapshot();
  auto stored = store.LoadEntries();
  for (const Status* s : {&t.status(), &v.status(), &snap.status(), &stored.status()}) {
    if (!s->ok()) return self->Fail(*s, RAFT_IOERR);
  }
  *term = t->value_or(0);
  *voted_for = v->value_or(0);
  *snapshot = snap->has_value() ? ToRaftSnapshot(**snap) : nullptr;
  if (!stored->empty()) {
    *start_index = stored->front().index;
  } else {
    *start_index = snap->has_value() ? (*snap)->index + 1 : 1;
  }
  *entries = ToRaftEntries(*stored);
  *n_entries = stored->size();
  self->next_index_ = *start_index + stored->size();
  return 0;
}

int RaftIo::Start(raft_io* io, unsigned msecs, raft_io_tick_cb tick, raft_io_recv_cb recv) noexcept {
  RaftIo* self = Self(io);
  self->tick_cb_ = tick;
  self->recv_cb_ = recv;
  self->timer_ = new uv_timer_t;
  uv_timer_init(self->loop_.raw(), self->timer_);
  self->timer_->data = self;
  uv_timer_start(self->timer_, &RaftIo::OnTick, msecs, msecs);
  return 0;
}

void RaftIo::OnTick(uv_timer_t* timer) noexcept {
  auto* self = static_cast<RaftIo*>(timer->data);
  (void)self->loop_.Enter();
  if (self->tick_cb_ != nullptr) self->tick_cb_(&self->io_);
}

void RaftIo::Receive(OnLoop, std::string_view bytes) {
  if (recv_cb_ == nullptr || closing_) return;
  DecodedMessage decoded;
  if (Status s = DecodeMessage(bytes, &decoded); !s.ok()) {
    QD_LOG_WARN("dropping a raft message: " + s.message());
    return;
  }
  decoded.owned = false;  // libraft takes entries and snapshot data, whatever it decides
  recv_cb_(&io_, &decoded.message);
}

int RaftIo::Bootstrap(raft_io* io, const raft_configuration* conf) noexcept {
  RaftIo* self = Self(io);
  RaftStore& store = *self->loop_store_;
  auto has = store.HasRaftState();
  if (!has.ok()) return self->Fail(has.status(), RAFT_IOERR);
  if (*has) return RAFT_CANTBOOTSTRAP;
  raft_buffer buf{};
  if (raft_configuration_encode(conf, &buf) != 0) return RAFT_NOMEM;
  StoredEntry first{.index = 1, .term = 1, .type = RAFT_CHANGE,
                    .data = std::string(static_cast<const char*>(buf.base), buf.len)};
  raft_free(buf.base);
  if (Status s = store.Append({first}); !s.ok()) return self->Fail(s, RAFT_IOERR);
  if (Status s = store.SetTerm(1); !s.ok()) return self->Fail(s, RAFT_IOERR);
  self->next_index_ = 2;
  return 0;
}

int RaftIo::Recover(raft_io* io, const raft_configuration* conf) noexcept {
  RaftIo* self = Self(io);
  RaftStore& store = *self->loop_store_;
  auto term = store.GetMetaU64("term");
  auto entries = store.LoadEntries();
  auto snap = store.LoadSnapshot();
  if (!term.ok() || !entries.ok() || !snap.ok()) return RAFT_IOERR;
  uint64_t next = !entries->empty()     ? entries->back().index + 1
                  : snap->has_value() ? (*snap)->index + 1
                                      : 1;
  raft_buffer buf{};
  if (raft_configuration_encode(conf, &buf) != 0) return RAFT_NOMEM;
  StoredEntry e{.index = next, .term = term->value_or(1), .type = RAFT_CHANGE,
                .data = std::string(static_cast<const char*>(buf.base), buf.len)};
  raft_free(buf.base);
  if (Status s = store.Append({e}); !s.ok()) return self->Fail(s, RAFT_IOERR);
  return 0;
}

int RaftIo::SetTerm(raft_io* io, raft_term term) noexcept {
  RaftIo* self = Self(io);
  if (Status s = self->loop_store_->SetTerm(term); !s.ok()) return self->Fail(s, RAFT_IOERR);
  return 0;
}

int RaftIo::SetVote(raft_io* io, raft_id server_id) noexcept {
  RaftIo* self = Self(io);
  if (Status s = self->loop_store_->SetVote(server_id); !s.ok()) return self->Fail(s, RAFT_IOERR);
  return 0;
}

int RaftIo::Send(raft_io* io, raft_io_send* req, const raft_message* message, raft_io_send_cb cb) noexcept {
  RaftIo* self = Self(io);
  if (self->closing_) return RAFT_CANCELED;
  // Serialised now, so libraft's memory is no longer needed; the callback still waits for the
  // transport so that a dropped message is reported as one.
  raft_message copy = *message;
  copy.server_id = self->id_;
  copy.server_address = self->address_.c_str();
  std::string bytes = EncodeMessage(copy);
  uint64_t send_id = self->sends_->next_id++;
  self->sends_->pending.emplace(send_id, PendingSend{req, cb});
  std::weak_ptr<Sends> weak = self->sends_;
  self->transport_->Send(self->loop_.Enter(), message->server_id,
                         message->server_address ? message->server_address : "", std::move(bytes),
                         [weak, send_id](OnLoop, bool delivered) {
                           auto sends = weak.lock();
                           if (!sends) return;
                           auto it = sends->pending.find(send_id);
                           if (it == sends->pending.end()) return;
                           PendingSend send = it->second;
                           sends->pending.erase(it);
                           if (send.cb) send.cb(send.req, delivered ? 0 : RAFT_NOCONNECTION);
                         });
  return 0;
}

int RaftIo::Append(raft_io* io, raft_io_append* req, const raft_entry entries[], unsigned n,
                   raft_io_append_cb cb) noexcept {
  RaftIo* self = Self(io);
  if (self->closing_) return RAFT_CANCELED;
  auto stored = std::make_shared<std::vector<StoredEntry>>();
  stored->reserve(n);
  for (unsigned i = 0; i < n; ++i) {
    stored->push_back(StoredEntry{
        .index = self->next_index_ + i,
        .term = entries[i].term,
        .type = entries[i].type,
        .data = std::string(static_cast<const char*>(entries[i].buf.base), entries[i].buf.len)});
  }
  self->next_index_ += n;
  auto status = std::make_shared<Status>();
  self->Submit([self, stored, status] { *status = self->worker_store_->Append(*stored); },
               [self, req, cb, status](OnLoop) {
                 int rv = status->ok() ? 0 : self->Fail(*status, RAFT_IOERR);
                 cb(req, rv);
               });
  return 0;
}

int RaftIo::Truncate(raft_io* io, raft_index index) noexcept {
  RaftIo* self = Self(io);
  if (self->closing_) return RAFT_CANCELED;
  self->next_index_ = index;
  self->Submit(
      [self, index] {
        if (Status s = self->worker_store_->TruncateFrom(index); !s.ok()) {
          QD_LOG_ERROR("raft io: " + s.message());
        }
      },
      [](OnLoop) {});
  return 0;
}

int RaftIo::SnapshotPut(raft_io* io, unsigned trailing, raft_io_snapshot_put* req,
                        const raft_snapshot* snapshot, raft_io_snapshot_put_cb cb) noexcept {
  RaftIo* self = Self(io);
  if (self->closing_) return RAFT_CANCELED;
  auto stored = std::make_shared<StoredSnapshot>();
  stored->index = snapshot->index;
  stored->term = snapshot->term;
  stored->conf = EncodeConfiguration(snapshot->configuration);
  stored->conf_index = snapshot->configuration_index;
  for (unsigned i = 0; i < snapshot->n_bufs; ++i) {
    stored->data.append(static_cast<const char*>(snapshot->bufs[i].base), snapshot->bufs[i].len);
  }
  if (trailing == 0) self->next_index_ = snapshot->index + 1;
  auto status = std::make_shared<Status>();
  self->Submit([self, stored, trailing, status] {
                 *status = self->worker_store_->PutSnapshot(*stored, trailing);
               },
               [self, req, cb, status](OnLoop) {
                 int rv = status->ok() ? 0 : self->Fail(*status, RAFT_IOERR);
                 cb(req, rv);
               });
  return 0;
}

int RaftIo::SnapshotGet(raft_io* io, raft_io_snapshot_get* req, raft_io_snapshot_get_cb cb) noexcept {
  RaftIo* self = Self(io);
  if (self->closing_) return RAFT_CANCELED;
  auto loaded = std::make_shared<Result<std::optional<StoredSnapshot>>>(Status::Internal("not run"));
  self->Submit([self, loaded] { *loaded = self->worker_store_->LoadSnapshot(); },
               [self, req, cb, loaded](OnLoop) {
                 if (!loaded->ok()) {
                   cb(req, nullptr, self->Fail(loaded->status(), RAFT_IOERR));
                 } else if (!loaded->value().has_value()) {
                   cb(req, nullptr, RAFT_NOTFOUND);
                 } else {
                   cb(req, ToRaftSnapshot(*loaded->value()), 0);
                 }
               });
  return 0;
}

raft_time RaftIo::Time(raft_io* io) noexcept { return uv_now(Self(io)->loop_.raw()); }

int RaftIo::Random(raft_io* io, int min, int max) noexcept {
  std::uniform_int_distribution<int> dist(min, max);
  return dist(Self(io)->rng_);
}

int RaftIo::AsyncWork(raft_io* io, raft_io_async_work* req, raft_io_async_work_cb cb) noexcept {
  RaftIo* self = Self(io);
  if (self->closing_) return RAFT_CANCELED;
  auto rv = std::make_shared<int>(0);
  self->Submit([req, rv] { *rv = req->work(req); }, [req, cb, rv](OnLoop) { cb(req, *rv); });
  return 0;
}

}  // namespace qd::consensus
