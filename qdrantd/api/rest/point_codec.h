// JSON <-> engine values for the points API: point ids, vectors, points, filters, payload and
// vector selectors, and the records we answer with. Numbers follow compat.md §2.6: float32 in
// the shortest text that round-trips, ids as exact integers or hyphenated UUIDs.
// Thread: any (pure functions).
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "libshared/status.h"
#include "qdrantd/collection/collection_config.h"
#include "qdrantd/segment/operation.h"
#include "qdrantd/segment/segment.h"

namespace qd::api::rest {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

Result<segment::PointId> ParsePointId(const rapidjson::Value& value, const std::string& path);
Result<std::vector<segment::PointId>> ParsePointIds(const rapidjson::Value& value,
                                                    const std::string& path);
// A point's `vector`: a plain array (the unnamed vector) or a map of name -> dense array or
// sparse {indices, values}.
Result<segment::NamedVectors> ParseVectors(const rapidjson::Value& value, const std::string& path);
Result<segment::Vector> ParseOneVector(const rapidjson::Value& value, const std::string& path);
// `points: [...]` or `batch: {ids, vectors, payloads}` of an upsert body.
Result<std::vector<segment::PointStruct>> ParsePointsInsert(const rapidjson::Value& body);
// `filter` (absent or null -> empty function).
Result<segment::PointFilter> ParseFilterField(const rapidjson::Value& object, const char* name,
                                              const std::string& path);
// `order_by` of scroll and of an order_by query (Qdrant's OrderByInterface): the key alone, or
// {key, direction: "asc" | "desc", start_from: number | RFC 3339 datetime}. `path` names it in
// errors (kInvalidArgument).
Result<segment::OrderBy> ParseOrderBy(const rapidjson::Value& value, const std::string& path);
// `with_payload` (absent -> absent_default) into a projector (null: no payload).
Result<segment::PayloadProjector> ParseWithPayload(const rapidjson::Value& object,
                                                   bool absent_default);
// `with_vector` / `with_vectors`: bool or list of names.
Status ParseWithVector(const rapidjson::Value& object, segment::Projection& projection);

// Optional unsigned member; errors name `path`.
Result<std::optional<uint64_t>> OptionalUint(const rapidjson::Value& object, const char* name,
                                             const std::string& path);

const rapidjson::Value* Member(const rapidjson::Value& object, const char* name);

void WriteFloat(JsonWriter& w, float value);
void WritePointId(JsonWriter& w, const segment::PointId& id);
void WriteVectors(JsonWriter& w, const segment::NamedVectors& vectors, bool unnamed);
// Record (retrieve, scroll) or ScoredPoint (search, query).
void WriteRecord(JsonWriter& w, const segment::PointRecord& record, bool scored, bool unnamed);
void WriteUpdateResult(JsonWriter& w, segment::OpNum operation_id, bool wait);

std::string Take(rapidjson::StringBuffer& buffer);

}  // namespace qd::api::rest
