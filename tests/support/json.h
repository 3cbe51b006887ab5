// Parsing JSON in a test case: text (or a response body) that is not JSON fails the case, and
// the text is printed with the failure. Header-only: it uses Catch, which the support library
// does not link.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <catch2/catch.hpp>
#include <string>

#include "tests/support/http_client.h"

namespace qd::test {

inline rapidjson::Document ParseJson(const std::string& text) {
  rapidjson::Document d;
  d.Parse(text.c_str());
  INFO(text);
  REQUIRE_FALSE(d.HasParseError());
  return d;
}

inline rapidjson::Document Json(const HttpResponse& response) { return ParseJson(response.body); }

// A value as compact JSON text.
inline std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace qd::test
