// Qdrant's gRPC collection messages <-> the JSON forms the engine keeps and parses
// (collection/collection_config.h): CreateCollection and UpdateCollection become the REST body
// that ParseCreateCollection / ApplyUpdate read, so both APIs validate alike; the stored config
// JSON and payload_schema become CollectionConfig and PayloadSchemaInfo. These messages are
// small and rare, so the conversion is generic (protobuf reflection, proto field names are
// Qdrant's JSON names) with the few places where Qdrant's JSON and proto differ spelled out.
// Only gRPC code includes this header. Thread: any (pure functions).
#pragma once

#include <rapidjson/document.h>

#include "collections.pb.h"
#include "libshared/status.h"
#include "points.pb.h"

namespace qd::api::grpc {

// The REST body of PUT /collections/{name} for this request.
void CreateCollectionToJson(const qdrant::CreateCollection& request, rapidjson::Document& body);
// The REST body of PATCH /collections/{name}.
void UpdateCollectionToJson(const qdrant::UpdateCollection& request, rapidjson::Document& body);
// The stored `config` object into CollectionConfig.
void ConfigToProto(const rapidjson::Value& config, qdrant::CollectionConfig* out);
// `payload_schema` ({field: {data_type, params?, points}}) into CollectionInfo.payload_schema.
void PayloadSchemaToProto(const rapidjson::Value& schema,
                          google::protobuf::Map<std::string, qdrant::PayloadSchemaInfo>* out);
// The REST `field_schema` of a CreateFieldIndex request: a type name, or a params object with
// its `type`. Errors: kInvalidArgument when neither a type nor params are given.
Status FieldSchemaToJson(const qdrant::CreateFieldIndexCollection& request,
                         rapidjson::Document& schema);

}  // namespace qd::api::grpc
