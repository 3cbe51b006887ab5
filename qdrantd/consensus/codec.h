// Wire and disk encodings of libraft's values: raft_message (carried as opaque bytes inside the
// P2P gRPC service) and raft_configuration (stored in raft.db and in snapshots). libraft exports
// raft_configuration_encode but not its decoder, so both directions are ours.
//
// Format (version 1), all integers little-endian fixed width:
//   message  = u8 version=1, u16 type, u64 sender id, str sender address, then per type:
//     request_vote:        u64 term, u64 candidate_id, u64 last_log_index, u64 last_log_term,
//                          u8 disrupt_leader, u8 pre_vote
//     request_vote_result: u64 term, u8 vote_granted, u8 pre_vote (raft_tribool)
//     append_entries:      u64 term, u64 prev_log_index, u64 prev_log_term, u64 leader_commit,
//                          u32 n, n x (u64 term, u16 type, bytes data)
//     append_entries_result: u64 term, u64 rejected, u64 last_log_index
//     install_snapshot:    u64 term, u64 last_index, u64 last_term, bytes conf, u64 conf_index,
//                          bytes data
//     timeout_now:         u64 term, u64 last_log_index, u64 last_log_term
//   conf     = u32 n, n x (u64 id, str address, u32 role)
//   str/bytes = u64 length, then the bytes
// Thread: any (pure functions).
#pragma once

#include "qdrantd/consensus/raft_c.h"

#include <cstdint>
#include <string>
#include <string_view>

#include "libshared/status.h"

namespace qd::consensus {

std::string EncodeConfiguration(const raft_configuration& conf);
// Fills `conf` (which must be initialised and empty) with raft_malloc'd addresses.
Status DecodeConfiguration(std::string_view bytes, raft_configuration* conf);

std::string EncodeMessage(const raft_message& message);

// A decoded message whose memory follows libraft's recv ownership rules: append_entries
// entries (one raft_malloc'd batch + array) and install_snapshot conf/data are handed over to
// libraft by the recv callback; `address` backs message.server_address for the call only.
struct DecodedMessage {
  raft_message message{};
  std::string address;
  bool owned = true;  // false once handed to libraft
  DecodedMessage() = default;
  DecodedMessage(const DecodedMessage&) = delete;
  DecodedMessage& operator=(const DecodedMessage&) = delete;
  ~DecodedMessage();
};
Status DecodeMessage(std::string_view bytes, DecodedMessage* out);
// Reads only the sender of an encoded message (id and address). False when malformed.
bool PeekSender(std::string_view bytes, uint64_t* id, std::string* address);

// Little-endian writer/reader shared by the encodings above and raft.db.
class ByteWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Fixed(v, 2); }
  void U32(uint32_t v) { Fixed(v, 4); }
  void U64(uint64_t v) { Fixed(v, 8); }
  void Bytes(std::string_view b) {
    U64(b.size());
    out_.append(b);
  }
  std::string Take() { return std::move(out_); }

 private:
  void Fixed(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  // Templates so that libraft's `unsigned long long` fields read directly.
  template <typename T>
  bool U8(T* v) { return Fixed(v, 1); }
  template <typename T>
  bool U16(T* v) { return Fixed(v, 2); }
  template <typename T>
  bool U32(T* v) { return Fixed(v, 4); }
  template <typename T>
  bool U64(T* v) {
    static_assert(sizeof(T) == 8);
    return Fixed(v, 8);
  }
  bool Bytes(std::string_view* v) {
    uint64_t n = 0;
    if (!U64(&n) || n > in_.size() - pos_) return false;
    *v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  template <typename T>
  bool Fixed(T* v, size_t n) {
    if (in_.size() - pos_ < n) return false;
    uint64_t x = 0;
    for (size_t i = 0; i < n; ++i) x |= uint64_t(static_cast<unsigned char>(in_[pos_ + i])) << (8 * i);
    pos_ += n;
    *v = static_cast<T>(x);
    return true;
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace qd::consensus
