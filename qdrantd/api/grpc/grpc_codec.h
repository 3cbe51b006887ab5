// Qdrant's gRPC messages <-> engine values for the Points service: point ids, vectors, payloads
// (qdrant.Value <-> RapidJSON, no JSON text in between), filters, payload and vector selectors,
// and the records we answer with. Proto points and search requests become engine structs
// directly; filters and payload selectors go through a small RapidJSON DOM into the same parsers
// REST uses (index/filter.h, index/json_path.h), so both APIs accept and reject alike.
// Also the one place where a Status becomes a grpc::Status (ToGrpcStatus).
// Only gRPC code includes this header (it pulls in grpcpp and the generated code).
// Thread: any (pure functions).
#pragma once

#include <grpcpp/grpcpp.h>
#include <rapidjson/document.h>

#include <string>

#include "libshared/status.h"
#include "points.pb.h"
#include "qdrantd/segment/operation.h"
#include "qdrantd/segment/segment.h"

namespace qd::api::grpc {

using Allocator = rapidjson::Document::AllocatorType;
using ProtoPayload = google::protobuf::Map<std::string, qdrant::Value>;

// Qdrant's mapping of errors to gRPC codes (STYLE.md §3), the message unchanged.
::grpc::Status ToGrpcStatus(const Status& status);

Result<segment::PointId> FromProto(const qdrant::PointId& id);
void ToProto(const segment::PointId& id, qdrant::PointId* out);
Result<std::vector<segment::PointId>> FromProto(
    const google::protobuf::RepeatedPtrField<qdrant::PointId>& ids);

// A payload map as the engine's JSON object text (PointStruct::payload_json and friends).
std::string PayloadToJsonText(const ProtoPayload& payload);
void PayloadToJson(const ProtoPayload& payload, rapidjson::Value& out, Allocator& alloc);
void ValueToJson(const qdrant::Value& value, rapidjson::Value& out, Allocator& alloc);
void JsonToValue(const rapidjson::Value& json, qdrant::Value* out);
// The members of a JSON object into a payload map (nothing for a non-object).
void JsonToPayload(const rapidjson::Value& object, ProtoPayload* out);

Result<segment::Vector> FromProto(const qdrant::Vector& vector, const std::string& path);
Result<segment::NamedVectors> FromProto(const qdrant::Vectors& vectors, const std::string& path);
// `unnamed`: the collection has a single unnamed vector (then sent as VectorsOutput.vector).
void ToProto(const segment::NamedVectors& vectors, bool unnamed, qdrant::VectorsOutput* out);

// Filters: proto -> the JSON form index::ParseFilter reads.
void FilterToJson(const qdrant::Filter& filter, rapidjson::Value& out, Allocator& alloc);
Result<segment::PointFilter> ParseFilter(const qdrant::Filter& filter, const std::string& path);

// with_payload: absent (null) -> absent_default.
Result<segment::PayloadProjector> ParseWithPayload(const qdrant::WithPayloadSelector* selector,
                                                   bool absent_default);
void ParseWithVectors(const qdrant::WithVectorsSelector* selector, segment::Projection& projection);

// OrderBy of scroll (ScrollPoints.order_by) and of Query.order_by; `path` names it in errors
// (kInvalidArgument, REST's texts).
Result<segment::OrderBy> FromProto(const qdrant::OrderBy& order_by, const std::string& path);

// Records carry order_value when the read was ordered by a payload field.
void ToProto(segment::PointRecord& record, bool unnamed, qdrant::RetrievedPoint* out);
void ToProto(segment::PointRecord& record, bool unnamed, qdrant::ScoredPoint* out);

}  // namespace qd::api::grpc
