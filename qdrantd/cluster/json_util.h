// Small RapidJSON helpers shared by ClusterState and MetaOperation (cluster/ only).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace qd::cluster::json {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

inline void Key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }
inline void Str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
// Writes already-serialised JSON text as a value ("null" when empty).
inline void Raw(Writer& w, std::string_view text) {
  if (text.empty()) text = "null";
  w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
}
inline std::string Serialize(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}
inline const rapidjson::Value* Member(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}
inline uint64_t U64(const rapidjson::Value& obj, const char* name, uint64_t fallback = 0) {
  const rapidjson::Value* v = Member(obj, name);
  return v && v->IsUint64() ? v->GetUint64() : fallback;
}
inline std::string String(const rapidjson::Value& obj, const char* name, std::string fallback = "") {
  const rapidjson::Value* v = Member(obj, name);
  return v && v->IsString() ? std::string(v->GetString(), v->GetStringLength()) : fallback;
}
inline bool Bool(const rapidjson::Value& obj, const char* name, bool fallback = false) {
  const rapidjson::Value* v = Member(obj, name);
  return v && v->IsBool() ? v->GetBool() : fallback;
}

}  // namespace qd::cluster::json

namespace qd::cluster {
struct Transfer;
namespace json {
// A Transfer as the cluster state and meta operations both encode it (cluster_state.cc).
void WriteTransfer(Writer& w, const Transfer& t);
Transfer ReadTransfer(const rapidjson::Value& v);
}  // namespace json
}  // namespace qd::cluster
