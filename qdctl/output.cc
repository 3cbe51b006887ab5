#include "qdctl/output.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>

namespace qd::qdctl {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteJson(JsonWriter& w, const Value& value);

void WriteRecord(JsonWriter& w, const Record& record) {
  w.StartObject();
  for (const Field& f : record) {
    w.Key(f.key.data(), static_cast<rapidjson::SizeType>(f.key.size()));
    WriteJson(w, f.value);
  }
  w.EndObject();
}

void WriteJson(JsonWriter& w, const Value& value) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) w.Null();
        else if constexpr (std::is_same_v<T, bool>) w.Bool(v);
        else if constexpr (std::is_same_v<T, int64_t>) w.Int64(v);
        else if constexpr (std::is_same_v<T, uint64_t>) w.Uint64(v);
        else if constexpr (std::is_same_v<T, double>) w.Double(v);
        else if constexpr (std::is_same_v<T, std::string>) w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
        else WriteRecord(w, v);
      },
      value);
}

std::string Text(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) return "-";
        else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
        else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) return std::to_string(v);
        else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%g", v);
          return buf;
        } else if constexpr (std::is_same_v<T, std::string>) return v;
        else return "";  // records are flattened by the caller
      },
      value);
}

void Flatten(const Record& record, const std::string& prefix,
             std::vector<std::vector<std::string>>& rows) {
  for (const Field& f : record) {
    std::string key = prefix.empty() ? f.key : prefix + "." + f.key;
    if (const auto* nested = std::get_if<Record>(&f.value)) {
      Flatten(*nested, key, rows);
    } else {
      rows.push_back({key, Text(f.value)});
    }
  }
}

}  // namespace

std::string AlignedTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line.append(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string Render(const Record& record, Format format) {
  if (format == Format::kJson) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    WriteRecord(w, record);
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  Flatten(record, "", rows);
  return AlignedTable(rows);
}

std::string RenderList(const std::vector<Record>& records, Format format) {
  if (format == Format::kJson) {
    rapidjson::StringBuffer buffer;
    JsonWriter w(buffer);
    w.StartArray();
    for (const Record& r : records) WriteRecord(w, r);
    w.EndArray();
    return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  if (!records.empty()) {
    std::vector<std::string> header;
    for (const Field& f : records.front()) {
      std::string h = f.key;
      std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::toupper(c); });
      header.push_back(h);
    }
    rows.push_back(header);
  }
  for (const Record& r : records) {
    std::vector<std::string> row;
    for (const Field& f : r) row.push_back(Text(f.value));
    rows.push_back(row);
  }
  return AlignedTable(rows);
}

}  // namespace qd::qdctl
