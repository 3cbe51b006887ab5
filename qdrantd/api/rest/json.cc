#include "qdrantd/api/rest/json.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <array>
#include <cstdio>
#include <ctime>

namespace qd::api::rest {

namespace {

// RapidJSON's parser, copy and destructor recurse once per nesting level, so a body of a million
// '[' would overflow the stack. Real requests nest a few levels (filters a few dozen): refuse
// anything deeper than kMaxDepth before building a DOM. Returns the offset of the first
// bracket too deep, or npos.
constexpr size_t kMaxDepth = 128;

// The bytes the scan must look at; everything else (digits, commas, letters: most of a body of
// vectors) is skipped by one predictable test.
constexpr std::array<bool, 256> kStructural = [] {
  std::array<bool, 256> table{};
  for (unsigned char c : {'"', '\\', '[', ']', '{', '}'}) table[c] = true;
  return table;
}();

size_t TooDeepAt(std::string_view body) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    if (!kStructural[static_cast<unsigned char>(c)]) continue;
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return i;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace

Result<rapidjson::Document> ParseJsonBody(std::string_view body) {
  if (size_t at = TooDeepAt(body); at != std::string_view::npos) {
    return Status::InvalidArgument("Format error in JSON body: nesting deeper than " +
                                   std::to_string(kMaxDepth) + " levels at offset " +
                                   std::to_string(at));
  }
  rapidjson::Document doc;
  rapidjson::MemoryStream memory(body.data(), body.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(memory);
  doc.ParseStream<rapidjson::kParseStopWhenDoneFlag>(stream);
  size_t offset = doc.GetErrorOffset();
  std::string what;
  if (doc.HasParseError()) {
    what = rapidjson::GetParseError_En(doc.GetParseError());
    if (!what.empty() && what.back() == '.') what.pop_back();
  } else {
    // Only whitespace may follow the value.
    size_t end = stream.Tell();
    while (end < body.size() && (body[end] == ' ' || body[end] == '\n' || body[end] == '\r' || body[end] == '\t')) ++end;
    if (end == body.size()) return doc;
    what = "trailing characters";
    offset = end;
  }
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < body.size(); ++i) {
    if (body[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return Status::InvalidArgument("Format error in JSON body: " + what + " at line " +
                                 std::to_string(line) + " column " + std::to_string(column));
}

std::string JsonQuote(std::string_view text) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string IsoTime(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[80];  // room for any int the compiler cannot bound
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_ms % 1000));
  return buf;
}

}  // namespace qd::api::rest
