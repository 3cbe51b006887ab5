#include "qdrantd/api/rest/json.h"

#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace qd::api::rest {

Result<rapidjson::Document> ParseJsonBody(std::string_view body) {
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

}  // namespace qd::api::rest
