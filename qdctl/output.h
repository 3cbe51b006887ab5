// The printer: the one place qdctl turns results into text. A command builds a Record (an
// ordered tree of fields) or a list of Records and prints it as an aligned table (the default)
// or as JSON (--output json), so every command looks alike and scripts can rely on the JSON.
// Thread: any (pure functions).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace qd::qdctl {

enum class Format { kTable, kJson };

struct Field;
using Record = std::vector<Field>;
// null prints as "-" in tables and null in JSON. Integers must be given as int64_t or uint64_t
// (a plain int would be ambiguous).
using Value = std::variant<std::nullptr_t, bool, int64_t, uint64_t, double, std::string, Record>;

struct Field {
  std::string key;
  Value value;
};

// One record: a two-column key/value table without a header (nested records flattened to
// "parent.child" keys), or one JSON object. Newline-terminated.
std::string Render(const Record& record, Format format);

// Rows with the same keys: a table whose header row is the keys in upper case (nested records
// flattened as in Render), or a JSON array of objects. With no rows: nothing, or "[]".
std::string RenderList(const std::vector<Record>& rows, Format format);

// An aligned table: every column as wide as its widest cell (in characters, not bytes), two
// spaces between columns, no trailing spaces. Control characters in cells print escaped
// ("\n"), so one row stays one line.
std::string AlignedTable(const std::vector<std::vector<std::string>>& rows);

// A 20-character progress bar, "[#####---------------]" for a quarter: what qdctl transfers
// --watch shows per transfer on a terminal. `done` beyond `total` shows full; total 0 empty.
std::string ProgressBar(uint64_t done, uint64_t total);

}  // namespace qd::qdctl
