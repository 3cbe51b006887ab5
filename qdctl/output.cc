#include "qdctl/output.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>

namespace qd::qdctl {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteJson(JsonWriter& w, const Value& value);

void WriteString(JsonWriter& w, const std::string& s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

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
      [&w](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          w.Null();
        } else if constexpr (std::is_same_v<T, bool>) {
          w.Bool(v);
        } else if constexpr (std::is_same_v<T, int64_t>) {
          w.Int64(v);
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          w.Uint64(v);
        } else if constexpr (std::is_same_v<T, double>) {
          // JSON has no NaN or infinity; RapidJSON would stop writing mid-document.
          if (std::isfinite(v)) {
            w.Double(v);
          } else {
            w.Null();
          }
        } else if constexpr (std::is_same_v<T, std::string>) {
          WriteString(w, v);
        } else {
          WriteRecord(w, v);
        }
      },
      value);
}

std::string Text(const Value& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::nullptr_t>) {
          return "-";
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, int64_t> || std::is_same_v<T, uint64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          char buf[32];
          std::snprintf(buf, sizeof buf, "%g", v);
          return buf;
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else {
          return "";  // records are flattened by the caller
        }
      },
      value);
}

// Appends (key, text) pairs, nested records as "parent.child".
void Flatten(const Record& record, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>& out) {
  for (const Field& f : record) {
    std::string key = prefix.empty() ? f.key : prefix + "." + f.key;
    if (const auto* nested = std::get_if<Record>(&f.value)) {
      Flatten(*nested, key, out);
    } else {
      out.emplace_back(std::move(key), Text(f.value));
    }
  }
}

std::string EscapeControl(const std::string& cell) {
  std::string out;
  out.reserve(cell.size());
  for (char c : cell) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// Width on a terminal, approximated as the number of UTF-8 code points.
size_t DisplayWidth(const std::string& s) {
  return static_cast<size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

std::string JsonText(const std::function<void(JsonWriter&)>& write) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  write(w);
  return std::string(buffer.GetString(), buffer.GetSize()) + "\n";
}

}  // namespace

std::string AlignedTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    std::vector<std::string>& escaped = cells.emplace_back();
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) {
      escaped.push_back(EscapeControl(row[i]));
      widths[i] = std::max(widths[i], DisplayWidth(escaped.back()));
    }
  }
  std::string out;
  for (const auto& row : cells) {
    // The last non-empty cell ends the line, so no line has trailing spaces.
    size_t last = row.size();
    while (last > 0 && row[last - 1].empty()) --last;
    for (size_t i = 0; i < last; ++i) {
      out += row[i];
      if (i + 1 < last) out.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

std::string Render(const Record& record, Format format) {
  if (format == Format::kJson) {
    return JsonText([&record](JsonWriter& w) { WriteRecord(w, record); });
  }
  std::vector<std::pair<std::string, std::string>> pairs;
  Flatten(record, "", pairs);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(pairs.size());
  for (auto& [key, text] : pairs) rows.push_back({std::move(key), std::move(text)});
  return AlignedTable(rows);
}

std::string RenderList(const std::vector<Record>& records, Format format) {
  if (format == Format::kJson) {
    return JsonText([&records](JsonWriter& w) {
      w.StartArray();
      for (const Record& r : records) WriteRecord(w, r);
      w.EndArray();
    });
  }
  if (records.empty()) return "";
  std::vector<std::vector<std::string>> rows(1);
  std::vector<std::pair<std::string, std::string>> pairs;
  Flatten(records.front(), "", pairs);
  for (const auto& [key, text] : pairs) {
    std::string header = key;
    std::transform(header.begin(), header.end(), header.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    rows.front().push_back(std::move(header));
  }
  for (const Record& r : records) {
    pairs.clear();
    Flatten(r, "", pairs);
    std::vector<std::string>& row = rows.emplace_back();
    for (auto& [key, text] : pairs) row.push_back(std::move(text));
  }
  return AlignedTable(rows);
}

std::string ProgressBar(uint64_t done, uint64_t total) {
  constexpr uint64_t kWidth = 20;
  const uint64_t filled = total == 0 ? 0 : std::min(done, total) * kWidth / total;
  return "[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "]";
}

}  // namespace qd::qdctl
