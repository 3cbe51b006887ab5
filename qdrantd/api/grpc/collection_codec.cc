#include "qdrantd/api/grpc/collection_codec.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/reflection.h>

#include <cctype>
#include <string>
#include <string_view>

#include "qdrantd/api/grpc/grpc_codec.h"

namespace qd::api::grpc {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using rapidjson::Value;

Value Str(std::string_view s, Allocator& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Qdrant's JSON spells distances as the enum ("Cosine"), every other enum in lower case
// ("int8", "x32", "float16", "idf", "auto", "word").
std::string EnumToJson(const EnumValueDescriptor* value) {
  if (value->type()->full_name() == "qdrant.Distance") return value->name();
  return Lower(value->name());
}

const EnumValueDescriptor* EnumFromJson(const google::protobuf::EnumDescriptor* type,
                                        std::string_view name) {
  const std::string lower = Lower(name);
  for (int i = 0; i < type->value_count(); ++i) {
    if (Lower(type->value(i)->name()) == lower) return type->value(i);
  }
  return nullptr;
}

// Proto field names that differ from the JSON member.
std::string_view JsonName(const FieldDescriptor* f) {
  const std::string& name = f->name();
  if (name == "vectors_config") return "vectors";
  if (name == "sparse_vectors_config") return "sparse_vectors";
  return name;
}

void MessageToJson(const Message& m, Value& out, Allocator& a);

void SingleToJson(const Message& m, const FieldDescriptor* f, Value& out, Allocator& a) {
  const Reflection* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out.SetInt(r->GetInt32(m, f));
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      out.SetInt64(r->GetInt64(m, f));
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      out.SetUint(r->GetUInt32(m, f));
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      out.SetUint64(r->GetUInt64(m, f));
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      out.SetDouble(r->GetDouble(m, f));
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      out.SetDouble(static_cast<double>(r->GetFloat(m, f)));
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      out.SetBool(r->GetBool(m, f));
      return;
    case FieldDescriptor::CPPTYPE_STRING:
      out = Str(r->GetString(m, f), a);
      return;
    case FieldDescriptor::CPPTYPE_ENUM:
      out = Str(EnumToJson(r->GetEnum(m, f)), a);
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      MessageToJson(r->GetMessage(m, f), out, a);
      return;
  }
}

void MapToJson(const Message& m, const FieldDescriptor* f, Value& out, Allocator& a) {
  const Reflection* r = m.GetReflection();
  out.SetObject();
  for (int i = 0; i < r->FieldSize(m, f); ++i) {
    const Message& entry = r->GetRepeatedMessage(m, f, i);
    const FieldDescriptor* key = entry.GetDescriptor()->map_key();
    const FieldDescriptor* value = entry.GetDescriptor()->map_value();
    Value v;
    if (value->message_type() && value->message_type()->full_name() == "qdrant.Value") {
      ValueToJson(
          static_cast<const qdrant::Value&>(entry.GetReflection()->GetMessage(entry, value)), v, a);
    } else {
      SingleToJson(entry, value, v, a);
    }
    out.AddMember(Str(entry.GetReflection()->GetString(entry, key), a), v, a);
  }
}

// Fields set in `m` (fields without presence always) as a JSON object, with Qdrant's special
// forms for the messages whose JSON is not their proto shape.
void MessageToJson(const Message& m, Value& out, Allocator& a) {
  const Descriptor* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  const std::string& type = d->full_name();
  if (type == "qdrant.VectorsConfig" || type == "qdrant.VectorsConfigDiff") {
    const auto* params = d->FindFieldByName("params");
    const auto* map = d->FindFieldByName("params_map");
    if (r->HasField(m, params)) {
      Value p;
      MessageToJson(r->GetMessage(m, params), p, a);
      if (type == "qdrant.VectorsConfigDiff") {  // the unnamed vector is named "" in a PATCH
        out.SetObject();
        out.AddMember("", p, a);
      } else {
        out = p;
      }
    } else if (r->HasField(m, map)) {
      const Message& inner = r->GetMessage(m, map);
      MapToJson(inner, inner.GetDescriptor()->FindFieldByName("map"), out, a);
    } else {
      out.SetObject();
    }
    return;
  }
  if (type == "qdrant.SparseVectorConfig") {
    MapToJson(m, d->FindFieldByName("map"), out, a);
    return;
  }
  if (type == "qdrant.MaxOptimizationThreads") {
    const auto* value = d->FindFieldByName("value");
    if (r->HasField(m, value)) {
      out.SetUint64(r->GetUInt64(m, value));
    } else {
      out.SetNull();  // Auto
    }
    return;
  }
  if (type == "qdrant.QuantizationConfigDiff" && r->HasField(m, d->FindFieldByName("disabled"))) {
    out = Str("Disabled", a);
    return;
  }
  out.SetObject();
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    Value v;
    if (f->is_map()) {
      if (r->FieldSize(m, f) == 0) continue;
      MapToJson(m, f, v, a);
    } else if (f->is_repeated()) {
      if (r->FieldSize(m, f) == 0) continue;
      v.SetArray();
      for (int j = 0; j < r->FieldSize(m, f); ++j) {
        switch (f->cpp_type()) {
          case FieldDescriptor::CPPTYPE_STRING:
            v.PushBack(Str(r->GetRepeatedString(m, f, j), a), a);
            break;
          case FieldDescriptor::CPPTYPE_UINT64:
            v.PushBack(Value(r->GetRepeatedUInt64(m, f, j)), a);
            break;
          default:
            break;  // no other repeated fields in these messages carry configuration
        }
      }
    } else if (f->has_presence() && !r->HasField(m, f)) {
      continue;
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_ENUM && r->GetEnumValue(m, f) == 0 &&
               Lower(r->GetEnum(m, f)->name()).starts_with("unknown")) {
      continue;  // UnknownDistance, Unknown tokenizer...: not given; the parser says what is missing
    } else {
      SingleToJson(m, f, v, a);
    }
    const std::string_view name = JsonName(f);
    if (name == "deprecated_max_optimization_threads") {
      if (!r->HasField(m, d->FindFieldByName("max_optimization_threads"))) {
        out.AddMember("max_optimization_threads", v, a);
      }
      continue;
    }
    out.AddMember(Str(name, a), v, a);
  }
}

// ---- JSON -> proto ----

void JsonToMessage(const Value& json, Message* m);

void JsonToSingle(const Value& json, Message* m, const FieldDescriptor* f) {
  const Reflection* r = m->GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      if (json.IsInt()) r->SetInt32(m, f, json.GetInt());
      return;
    case FieldDescriptor::CPPTYPE_INT64:
      if (json.IsInt64()) r->SetInt64(m, f, json.GetInt64());
      return;
    case FieldDescriptor::CPPTYPE_UINT32:
      if (json.IsUint()) r->SetUInt32(m, f, json.GetUint());
      return;
    case FieldDescriptor::CPPTYPE_UINT64:
      if (json.IsUint64()) r->SetUInt64(m, f, json.GetUint64());
      return;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      if (json.IsNumber()) r->SetDouble(m, f, json.GetDouble());
      return;
    case FieldDescriptor::CPPTYPE_FLOAT:
      if (json.IsNumber()) r->SetFloat(m, f, static_cast<float>(json.GetDouble()));
      return;
    case FieldDescriptor::CPPTYPE_BOOL:
      if (json.IsBool()) r->SetBool(m, f, json.GetBool());
      return;
    case FieldDescriptor::CPPTYPE_STRING:
      if (json.IsString())
        r->SetString(m, f, std::string(json.GetString(), json.GetStringLength()));
      return;
    case FieldDescriptor::CPPTYPE_ENUM:
      if (json.IsString()) {
        if (const EnumValueDescriptor* e = EnumFromJson(f->enum_type(), json.GetString())) {
          r->SetEnum(m, f, e);
        }
      }
      return;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      JsonToMessage(json, r->MutableMessage(m, f));
      return;
  }
}

void JsonToMap(const Value& json, Message* m, const FieldDescriptor* f) {
  if (!json.IsObject()) return;
  const Reflection* r = m->GetReflection();
  for (auto member = json.MemberBegin(); member != json.MemberEnd(); ++member) {
    Message* entry = r->AddMessage(m, f);
    const FieldDescriptor* key = entry->GetDescriptor()->map_key();
    const FieldDescriptor* value = entry->GetDescriptor()->map_value();
    entry->GetReflection()->SetString(entry, key, member->name.GetString());
    if (value->message_type() && value->message_type()->full_name() == "qdrant.Value") {
      JsonToValue(member->value, static_cast<qdrant::Value*>(
                                     entry->GetReflection()->MutableMessage(entry, value)));
    } else {
      JsonToSingle(member->value, entry, value);
    }
  }
}

void JsonToMessage(const Value& json, Message* m) {
  const Descriptor* d = m->GetDescriptor();
  const Reflection* r = m->GetReflection();
  const std::string& type = d->full_name();
  if (type == "qdrant.VectorsConfig") {
    if (json.IsObject() && json.HasMember("size")) {
      JsonToMessage(json, r->MutableMessage(m, d->FindFieldByName("params")));
    } else {
      Message* map = r->MutableMessage(m, d->FindFieldByName("params_map"));
      JsonToMap(json, map, map->GetDescriptor()->FindFieldByName("map"));
    }
    return;
  }
  if (type == "qdrant.SparseVectorConfig") {
    JsonToMap(json, m, d->FindFieldByName("map"));
    return;
  }
  if (type == "qdrant.MaxOptimizationThreads") {
    if (json.IsUint64()) {
      r->SetUInt64(m, d->FindFieldByName("value"), json.GetUint64());
    } else {
      r->SetEnumValue(m, d->FindFieldByName("setting"), 0);  // Auto
    }
    return;
  }
  if (!json.IsObject()) return;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    const std::string_view name = JsonName(f);
    auto it = json.FindMember(Value(rapidjson::StringRef(name.data(), name.size())));
    if (it == json.MemberEnd()) continue;
    if (it->value.IsNull() && f->message_type() == nullptr) continue;
    if (it->value.IsNull() && f->message_type()->full_name() != "qdrant.MaxOptimizationThreads")
      continue;
    if (f->is_map()) {
      JsonToMap(it->value, m, f);
    } else if (f->is_repeated()) {
      continue;  // no repeated configuration fields are reported
    } else {
      JsonToSingle(it->value, m, f);
    }
  }
}

void SkipRequestFields(Value& body) {
  body.RemoveMember("collection_name");
  body.RemoveMember("timeout");
}

}  // namespace

void CreateCollectionToJson(const qdrant::CreateCollection& request, rapidjson::Document& body) {
  MessageToJson(request, body, body.GetAllocator());
  SkipRequestFields(body);
}

void UpdateCollectionToJson(const qdrant::UpdateCollection& request, rapidjson::Document& body) {
  MessageToJson(request, body, body.GetAllocator());
  SkipRequestFields(body);
}

void ConfigToProto(const Value& config, qdrant::CollectionConfig* out) {
  JsonToMessage(config, out);
  // Qdrant always reports the optimizer's thread setting, Auto when unset.
  if (!out->optimizer_config().has_max_optimization_threads()) {
    out->mutable_optimizer_config()->mutable_max_optimization_threads()->set_setting(
        qdrant::MaxOptimizationThreads::Auto);
  }
}

void PayloadSchemaToProto(const Value& schema,
                          google::protobuf::Map<std::string, qdrant::PayloadSchemaInfo>* out) {
  if (!schema.IsObject()) return;
  for (auto m = schema.MemberBegin(); m != schema.MemberEnd(); ++m) {
    qdrant::PayloadSchemaInfo& info = (*out)[m->name.GetString()];
    const Value& entry = m->value;
    std::string type;
    if (entry.HasMember("data_type") && entry["data_type"].IsString())
      type = entry["data_type"].GetString();
    qdrant::PayloadSchemaType data_type = qdrant::UnknownType;
    if (const EnumValueDescriptor* e = EnumFromJson(qdrant::PayloadSchemaType_descriptor(), type)) {
      data_type = static_cast<qdrant::PayloadSchemaType>(e->number());
    }
    info.set_data_type(data_type);
    if (entry.HasMember("points") && entry["points"].IsUint64())
      info.set_points(entry["points"].GetUint64());
    if (entry.HasMember("params") && entry["params"].IsObject()) {
      // PayloadIndexParams' oneof members are named <type>_index_params.
      const std::string member = Lower(type) + "_index_params";
      const FieldDescriptor* f = qdrant::PayloadIndexParams::descriptor()->FindFieldByName(member);
      if (f) {
        qdrant::PayloadIndexParams* params = info.mutable_params();
        JsonToMessage(entry["params"], params->GetReflection()->MutableMessage(params, f));
      }
    }
  }
}

Status FieldSchemaToJson(const qdrant::CreateFieldIndexCollection& request,
                         rapidjson::Document& schema) {
  static constexpr const char* kTypeNames[] = {"keyword", "integer", "float",    "geo",
                                               "text",    "bool",    "datetime", "uuid"};
  std::string type;
  if (request.has_field_type()) {
    const int t = static_cast<int>(request.field_type());
    if (t < 0 || t >= static_cast<int>(std::size(kTypeNames))) {
      return Status::InvalidArgument("Format error: field_type: unknown field type " +
                                     std::to_string(t));
    }
    type = kTypeNames[t];
  }
  if (!request.has_field_index_params() || request.field_index_params().index_params_case() ==
                                               qdrant::PayloadIndexParams::INDEX_PARAMS_NOT_SET) {
    if (type.empty()) {
      return Status::InvalidArgument(
          "Bad request: field_schema is required (automatic schema inference is not supported)");
    }
    schema.SetString(type.c_str(), static_cast<rapidjson::SizeType>(type.size()),
                     schema.GetAllocator());
    return Status::Ok();
  }
  const qdrant::PayloadIndexParams& params = request.field_index_params();
  const Reflection* r = params.GetReflection();
  const FieldDescriptor* set =
      r->GetOneofFieldDescriptor(params, params.GetDescriptor()->oneof_decl(0));
  std::string params_type = set->name().substr(0, set->name().find("_index_params"));
  if (type.empty()) type = params_type;
  Value inner;
  MessageToJson(r->GetMessage(params, set), inner, schema.GetAllocator());
  schema.SetObject();
  schema.AddMember("type", Str(type, schema.GetAllocator()), schema.GetAllocator());
  for (auto m = inner.MemberBegin(); m != inner.MemberEnd(); ++m) {
    schema.AddMember(m->name, m->value, schema.GetAllocator());
  }
  return Status::Ok();
}

}  // namespace qd::api::grpc
