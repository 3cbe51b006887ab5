#include "qdrantd/consensus/codec.h"

#include <cstring>
#include <vector>

namespace qd::consensus {
namespace {

constexpr uint8_t kMessageVersion = 1;

Status Malformed(const char* what) {
  return Status::InvalidArgument(std::string("malformed raft message: ") + what);
}

}  // namespace

std::string EncodeConfiguration(const raft_configuration& conf) {
  ByteWriter w;
  w.U32(conf.n);
  for (unsigned i = 0; i < conf.n; ++i) {
    w.U64(conf.servers[i].id);
    w.Bytes(conf.servers[i].address ? conf.servers[i].address : "");
    w.U32(static_cast<uint32_t>(conf.servers[i].role));
  }
  return w.Take();
}

Status DecodeConfiguration(std::string_view bytes, raft_configuration* conf) {
  ByteReader r(bytes);
  uint32_t n = 0;
  if (!r.U32(&n)) return Malformed("configuration size");
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t id = 0;
    uint32_t role = 0;
    std::string_view address;
    if (!r.U64(&id) || !r.Bytes(&address) || !r.U32(&role)) return Malformed("configuration entry");
    std::string a(address);
    if (raft_configuration_add(conf, id, a.c_str(), static_cast<int>(role)) != 0) {
      return Malformed("configuration entry rejected by libraft");
    }
  }
  if (!r.done()) return Malformed("trailing bytes after configuration");
  return Status::Ok();
}

std::string EncodeMessage(const raft_message& m) {
  ByteWriter w;
  w.U8(kMessageVersion);
  w.U16(m.type);
  w.U64(m.server_id);
  w.Bytes(m.server_address ? m.server_address : "");
  switch (m.type) {
    case RAFT_IO_REQUEST_VOTE: {
      const auto& a = m.request_vote;
      w.U64(a.term);
      w.U64(a.candidate_id);
      w.U64(a.last_log_index);
      w.U64(a.last_log_term);
      w.U8(a.disrupt_leader);
      w.U8(a.pre_vote);
      break;
    }
    case RAFT_IO_REQUEST_VOTE_RESULT: {
      const auto& a = m.request_vote_result;
      w.U64(a.term);
      w.U8(a.vote_granted);
      w.U8(static_cast<uint8_t>(a.pre_vote));
      break;
    }
    case RAFT_IO_APPEND_ENTRIES: {
      const auto& a = m.append_entries;
      w.U64(a.term);
      w.U64(a.prev_log_index);
      w.U64(a.prev_log_term);
      w.U64(a.leader_commit);
      w.U32(a.n_entries);
      for (unsigned i = 0; i < a.n_entries; ++i) {
        w.U64(a.entries[i].term);
        w.U16(a.entries[i].type);
        w.Bytes(std::string_view(static_cast<const char*>(a.entries[i].buf.base), a.entries[i].buf.len));
      }
      break;
    }
    case RAFT_IO_APPEND_ENTRIES_RESULT: {
      const auto& a = m.append_entries_result;
      w.U64(a.term);
      w.U64(a.rejected);
      w.U64(a.last_log_index);
      break;
    }
    case RAFT_IO_INSTALL_SNAPSHOT: {
      const auto& a = m.install_snapshot;
      w.U64(a.term);
      w.U64(a.last_index);
      w.U64(a.last_term);
      w.Bytes(EncodeConfiguration(a.conf));
      w.U64(a.conf_index);
      w.Bytes(std::string_view(static_cast<const char*>(a.data.base), a.data.len));
      break;
    }
    case RAFT_IO_TIMEOUT_NOW: {
      const auto& a = m.timeout_now;
      w.U64(a.term);
      w.U64(a.last_log_index);
      w.U64(a.last_log_term);
      break;
    }
    default:
      break;
  }
  return w.Take();
}

DecodedMessage::~DecodedMessage() {
  if (!owned) return;
  if (message.type == RAFT_IO_APPEND_ENTRIES && message.append_entries.entries != nullptr) {
    raft_free(message.append_entries.entries[0].batch);
    raft_free(message.append_entries.entries);
  }
  if (message.type == RAFT_IO_INSTALL_SNAPSHOT) {
    raft_configuration_close(&message.install_snapshot.conf);
    raft_free(message.install_snapshot.data.base);
  }
}

bool PeekSender(std::string_view bytes, uint64_t* id, std::string* address) {
  ByteReader r(bytes);
  uint8_t version = 0;
  uint16_t type = 0;
  std::string_view a;
  if (!r.U8(&version) || version != kMessageVersion || !r.U16(&type) || !r.U64(id) || !r.Bytes(&a)) {
    return false;
  }
  address->assign(a);
  return true;
}

Status DecodeMessage(std::string_view bytes, DecodedMessage* out) {
  ByteReader r(bytes);
  raft_message& m = out->message;
  uint8_t version = 0;
  std::string_view address;
  if (!r.U8(&version) || version != kMessageVersion) return Malformed("version");
  if (!r.U16(&m.type) || !r.U64(&m.server_id) || !r.Bytes(&address)) return Malformed("header");
  out->address.assign(address);
  m.server_address = out->address.c_str();
  bool ok = true;
  switch (m.type) {
    case RAFT_IO_REQUEST_VOTE: {
      auto& a = m.request_vote;
      uint8_t disrupt = 0, pre = 0;
      ok = r.U64(&a.term) && r.U64(&a.candidate_id) && r.U64(&a.last_log_index) &&
           r.U64(&a.last_log_term) && r.U8(&disrupt) && r.U8(&pre);
      a.disrupt_leader = disrupt != 0;
      a.pre_vote = pre != 0;
      break;
    }
    case RAFT_IO_REQUEST_VOTE_RESULT: {
      auto& a = m.request_vote_result;
      uint8_t granted = 0, pre = 0;
      ok = r.U64(&a.term) && r.U8(&granted) && r.U8(&pre);
      a.vote_granted = granted != 0;
      a.pre_vote = static_cast<raft_tribool>(pre);
      break;
    }
    case RAFT_IO_APPEND_ENTRIES: {
      auto& a = m.append_entries;
      uint32_t n = 0;
      ok = r.U64(&a.term) && r.U64(&a.prev_log_index) && r.U64(&a.prev_log_term) &&
           r.U64(&a.leader_commit) && r.U32(&n);
      if (!ok) break;
      // Two passes: measure, then copy every entry's data into one batch, the layout libraft's
      // own uv backend produces and frees (entryBatchesDestroy).
      struct Raw {
        uint64_t term;
        uint16_t type;
        std::string_view data;
      };
      std::vector<Raw> raws(n);
      size_t total = 0;
      for (uint32_t i = 0; i < n && ok; ++i) {
        ok = r.U64(&raws[i].term) && r.U16(&raws[i].type) && r.Bytes(&raws[i].data);
        total += raws[i].data.size();
      }
      if (!ok || n == 0) {
        a.entries = nullptr;
        a.n_entries = 0;
        break;
      }
      auto* batch = static_cast<char*>(raft_malloc(total == 0 ? 1 : total));
      auto* entries = static_cast<raft_entry*>(raft_calloc(n, sizeof(raft_entry)));
      size_t offset = 0;
      for (uint32_t i = 0; i < n; ++i) {
        if (!raws[i].data.empty()) std::memcpy(batch + offset, raws[i].data.data(), raws[i].data.size());
        entries[i].term = raws[i].term;
        entries[i].type = raws[i].type;
        entries[i].buf.base = batch + offset;
        entries[i].buf.len = raws[i].data.size();
        entries[i].batch = batch;
        offset += raws[i].data.size();
      }
      a.entries = entries;
      a.n_entries = n;
      break;
    }
    case RAFT_IO_APPEND_ENTRIES_RESULT: {
      auto& a = m.append_entries_result;
      ok = r.U64(&a.term) && r.U64(&a.rejected) && r.U64(&a.last_log_index);
      break;
    }
    case RAFT_IO_INSTALL_SNAPSHOT: {
      auto& a = m.install_snapshot;
      raft_configuration_init(&a.conf);
      a.data.base = nullptr;
      a.data.len = 0;
      std::string_view conf, data;
      ok = r.U64(&a.term) && r.U64(&a.last_index) && r.U64(&a.last_term) && r.Bytes(&conf) &&
           r.U64(&a.conf_index) && r.Bytes(&data);
      if (!ok) break;
      if (Status s = DecodeConfiguration(conf, &a.conf); !s.ok()) return s;
      a.data.base = raft_malloc(data.empty() ? 1 : data.size());
      if (!data.empty()) std::memcpy(a.data.base, data.data(), data.size());
      a.data.len = data.size();
      break;
    }
    case RAFT_IO_TIMEOUT_NOW: {
      auto& a = m.timeout_now;
      ok = r.U64(&a.term) && r.U64(&a.last_log_index) && r.U64(&a.last_log_term);
      break;
    }
    default:
      return Malformed("unknown type");
  }
  if (!ok) return Malformed("truncated body");
  return Status::Ok();
}

}  // namespace qd::consensus
