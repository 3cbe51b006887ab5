// JSON helpers of the REST layer, over RapidJSON. Included by handlers, not by the server core.
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "libshared/status.h"

namespace qd::api::rest {

// Parses a request body. A malformed body fails with kInvalidArgument in Qdrant's words:
// "Format error in JSON body: <what> at line L column C".
Result<rapidjson::Document> ParseJsonBody(std::string_view body);

// `text` as a JSON string literal, quotes included.
std::string JsonQuote(std::string_view text);

// RFC 3339 UTC time with milliseconds ("2026-12-07T19:38:26.123Z") of Unix milliseconds.
std::string IsoTime(int64_t unix_ms);

// Serialises a value compactly.
std::string ToJson(const rapidjson::Value& value);

}  // namespace qd::api::rest
