#include "qdrantd/consensus/fsm.h"

#include <cstring>

#include "libshared/log.h"

namespace qd::consensus {

FsmAdapter::FsmAdapter(server::Loop& loop, Fsm* fsm) : loop_(loop), impl_(fsm) {
  fsm_.version = 1;
  fsm_.data = this;
  fsm_.apply = &FsmAdapter::ApplyCb;
  fsm_.snapshot = &FsmAdapter::SnapshotCb;
  fsm_.restore = &FsmAdapter::RestoreCb;
}

int FsmAdapter::ApplyCb(raft_fsm* fsm, const raft_buffer* buf, void** result) noexcept {
  auto* self = static_cast<FsmAdapter*>(fsm->data);
  // libraft sets last_applied to this entry's index right after apply returns.
  uint64_t index = self->raft_ ? raft_last_applied(self->raft_) + 1 : 0;
  self->impl_->Apply(self->loop_.Enter(), index,
                     std::string_view(static_cast<const char*>(buf->base), buf->len));
  *result = nullptr;
  return 0;
}

int FsmAdapter::SnapshotCb(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) noexcept {
  auto* self = static_cast<FsmAdapter*>(fsm->data);
  std::string bytes = self->impl_->Snapshot(self->loop_.Enter());
  *bufs = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
  if (*bufs == nullptr) return RAFT_NOMEM;
  (*bufs)[0].base = raft_malloc(bytes.empty() ? 1 : bytes.size());
  if ((*bufs)[0].base == nullptr) {
    raft_free(*bufs);
    return RAFT_NOMEM;
  }
  if (!bytes.empty()) std::memcpy((*bufs)[0].base, bytes.data(), bytes.size());
  (*bufs)[0].len = bytes.size();
  *n_bufs = 1;
  return 0;
}

int FsmAdapter::RestoreCb(raft_fsm* fsm, raft_buffer* buf) noexcept {
  auto* self = static_cast<FsmAdapter*>(fsm->data);
  Status s = self->impl_->Restore(self->loop_.Enter(),
                                  std::string_view(static_cast<const char*>(buf->base), buf->len),
                                  self->raft_ ? self->raft_->log.snapshot.last_index : 0);
  if (!s.ok()) {
    QD_LOG_ERROR("cannot restore the cluster state from a raft snapshot: " + s.message());
    return RAFT_MALFORMED;
  }
  raft_free(buf->base);  // on success the FSM owns the buffer (libraft fsm docs)
  return 0;
}

}  // namespace qd::consensus
