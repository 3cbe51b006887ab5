#include "qdrantd/segment/operation.h"

#include <cstring>

namespace qd::segment {
namespace {

constexpr uint8_t kVersion = 1;

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      U8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    U8(static_cast<uint8_t>(v));
  }
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  void Str(std::string_view s) {
    Varint(s.size());
    Raw(s.data(), s.size());
  }
  void Id(const PointId& id) {
    U8(id.is_uuid ? 1 : 0);
    if (id.is_uuid) {
      Raw(id.uuid.data(), 16);
    } else {
      Varint(id.num);
    }
  }
  void Vec(const Vector& v) {
    U8(v.sparse ? 1 : 0);
    if (v.sparse) {
      Varint(v.indices.size());
      Raw(v.indices.data(), v.indices.size() * 4);
      Raw(v.values.data(), v.values.size() * 4);
    } else {
      Varint(v.dense.size());
      Raw(v.dense.data(), v.dense.size() * 4);
    }
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool AtEnd() const { return pos_ == in_.size(); }
  uint8_t U8() {
    if (pos_ >= in_.size()) return Fail();
    return static_cast<uint8_t>(in_[pos_++]);
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t b = U8();
      if (!ok_) return 0;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    return Fail();
  }
  bool Raw(void* p, size_t n) {
    if (n > in_.size() - pos_) return Fail();
    if (n) std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  std::string Str() {
    uint64_t n = Varint();
    if (!ok_ || n > in_.size() - pos_) return Fail(), std::string();
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  PointId Id() {
    PointId id;
    id.is_uuid = U8() == 1;
    if (id.is_uuid) {
      Raw(id.uuid.data(), 16);
    } else {
      id.num = Varint();
    }
    return id;
  }
  Vector Vec() {
    Vector v;
    v.sparse = U8() == 1;
    uint64_t n = Varint();
    if (!ok_ || n > (in_.size() - pos_) / 4) return Fail(), v;
    if (v.sparse) {
      v.indices.resize(n);
      v.values.resize(n);
      Raw(v.indices.data(), n * 4);
      Raw(v.values.data(), n * 4);
    } else {
      v.dense.resize(n);
      Raw(v.dense.data(), n * 4);
    }
    return v;
  }
  // Bounds a count read from the record by the bytes left, so a corrupt count cannot make us
  // allocate without limit.
  uint64_t Count() {
    uint64_t n = Varint();
    if (n > in_.size() - pos_) return Fail();
    return n;
  }

 private:
  uint8_t Fail() {
    ok_ = false;
    pos_ = in_.size();
    return 0;
  }
  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace

std::vector<PointId> Operation::AffectedIds() const {
  std::vector<PointId> out = ids;
  for (const PointStruct& p : points) out.push_back(p.id);
  return out;
}

std::string Encode(const Operation& op) {
  Writer w;
  w.U8(kVersion);
  w.U8(static_cast<uint8_t>(op.kind));
  w.Varint(op.points.size());
  for (const PointStruct& p : op.points) {
    w.Id(p.id);
    w.Varint(p.vectors.size());
    for (const auto& [name, v] : p.vectors) {
      w.Str(name);
      w.Vec(v);
    }
    w.Str(p.payload_json);
  }
  w.Varint(op.ids.size());
  for (const PointId& id : op.ids) w.Id(id);
  w.Str(op.payload_json);
  w.U8(op.key ? 1 : 0);
  if (op.key) w.Str(*op.key);
  w.Varint(op.names.size());
  for (const std::string& n : op.names) w.Str(n);
  w.Str(op.field_name);
  w.Str(op.field_schema_json);
  return w.Take();
}

Result<Operation> Decode(std::string_view bytes) {
  Reader r(bytes);
  Operation op;
  if (r.U8() != kVersion) return Status::Internal("WAL record: unknown format version");
  uint8_t kind = r.U8();
  if (kind < 1 || kind > 10) return Status::Internal("WAL record: unknown operation kind");
  op.kind = static_cast<OpKind>(kind);
  uint64_t n = r.Count();
  for (uint64_t i = 0; i < n && r.ok(); ++i) {
    PointStruct p;
    p.id = r.Id();
    uint64_t nv = r.Count();
    for (uint64_t j = 0; j < nv && r.ok(); ++j) {
      std::string name = r.Str();
      p.vectors.emplace_back(std::move(name), r.Vec());
    }
    p.payload_json = r.Str();
    op.points.push_back(std::move(p));
  }
  n = r.Count();
  for (uint64_t i = 0; i < n && r.ok(); ++i) op.ids.push_back(r.Id());
  op.payload_json = r.Str();
  if (r.U8() == 1) op.key = r.Str();
  n = r.Count();
  for (uint64_t i = 0; i < n && r.ok(); ++i) op.names.push_back(r.Str());
  op.field_name = r.Str();
  op.field_schema_json = r.Str();
  if (!r.ok() || !r.AtEnd()) return Status::Internal("WAL record: truncated or corrupt");
  return op;
}

}  // namespace qd::segment
