// The one printer of qdctl: every command builds a Record (an ordered tree of fields) and prints
// it as an aligned table (the default) or as JSON (--output json). Tables flatten nested fields
// to dotted keys; lists of records print as a table with a header row.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace qd::qdctl {

enum class Format { kTable, kJson };

struct Field;
using Record = std::vector<Field>;
using Value = std::variant<std::nullptr_t, bool, int64_t, uint64_t, double, std::string, Record>;

struct Field {
  std::string key;
  Value value;
};

// A key/value table (nested records flattened to "a.b") or one JSON object, newline-terminated.
std::string Render(const Record& record, Format format);
// Rows with the same keys: a table with a header row, or a JSON array of objects.
std::string RenderList(const std::vector<Record>& rows, Format format);
// An aligned table: each column as wide as its widest cell, two spaces between columns.
std::string AlignedTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace qd::qdctl
