// qdctl's printer: aligned tables and JSON, the two forms every command prints.
#include "qdctl/output.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using qd::qdctl::AlignedTable;
using qd::qdctl::Format;
using qd::qdctl::ProgressBar;
using qd::qdctl::Record;
using qd::qdctl::Render;
using qd::qdctl::RenderList;
using qd::qdctl::Value;

TEST_CASE("AlignedTable pads every column to its widest cell, without trailing spaces",
          "[unit][qdctl]") {
  CHECK(AlignedTable({{"ID", "URI", "ROLE"},
                      {"1", "http://10.0.0.1:6335", "Leader"},
                      {"22", "http://h:6335", "Follower"}}) ==
        "ID  URI                   ROLE\n"
        "1   http://10.0.0.1:6335  Leader\n"
        "22  http://h:6335         Follower\n");
  CHECK(AlignedTable({}) == "");
  CHECK(AlignedTable({{"a", ""}, {"bb", "x"}}) == "a\nbb  x\n");
}

TEST_CASE("AlignedTable counts characters, not bytes, and escapes control characters",
          "[unit][qdctl]") {
  CHECK(AlignedTable({{"bücher", "1"}, {"books", "2"}}) ==
        "bücher  1\n"
        "books   2\n");
  CHECK(AlignedTable({{"k", "two\nlines\tand\x01"}}) == "k  two\\nlines\\tand\\x01\n");
}

TEST_CASE("Render prints one record as a key/value table with nested keys flattened",
          "[unit][qdctl]") {
  Record record = {{"status", std::string("ok")},
                   {"version", std::string("1.19.0")},
                   {"commit", nullptr},
                   {"server", Record{{"peer_id", uint64_t{42}}, {"voter", true}}},
                   {"ratio", 0.5},
                   {"delta", int64_t{-3}}};
  CHECK(Render(record, Format::kTable) ==
        "status          ok\n"
        "version         1.19.0\n"
        "commit          -\n"
        "server.peer_id  42\n"
        "server.voter    true\n"
        "ratio           0.5\n"
        "delta           -3\n");
  CHECK(Render(record, Format::kJson) ==
        R"({"status":"ok","version":"1.19.0","commit":null,)"
        R"("server":{"peer_id":42,"voter":true},"ratio":0.5,"delta":-3})"
        "\n");
}

TEST_CASE("JSON output escapes strings and keeps 64-bit integers exact", "[unit][qdctl]") {
  Record record = {{"title", std::string("a \"quoted\"\\ title\n\twith\x01 control")},
                   {"unicode", std::string("bücher ✓")},
                   {"id", uint64_t{18446744073709551615ull}}};
  CHECK(Render(record, Format::kJson) ==
        R"({"title":"a \"quoted\"\\ title\n\twith\u0001 control","unicode":"bücher ✓",)"
        R"("id":18446744073709551615})"
        "\n");
}

TEST_CASE("JSON output writes null for NaN and infinity, which JSON cannot hold", "[unit][qdctl]") {
  Record record = {{"nan", std::nan("")}, {"inf", std::numeric_limits<double>::infinity()}};
  CHECK(Render(record, Format::kJson) == "{\"nan\":null,\"inf\":null}\n");
}

TEST_CASE("RenderList prints a header row from the keys, or a JSON array", "[unit][qdctl]") {
  std::vector<Record> rows = {
      {{"id", uint64_t{1}}, {"uri", std::string("http://a:6335")}, {"leader", true}},
      {{"id", uint64_t{12}}, {"uri", std::string("http://bb:6335")}, {"leader", false}},
  };
  CHECK(RenderList(rows, Format::kTable) ==
        "ID  URI             LEADER\n"
        "1   http://a:6335   true\n"
        "12  http://bb:6335  false\n");
  CHECK(RenderList(rows, Format::kJson) == R"([{"id":1,"uri":"http://a:6335","leader":true},)"
                                           R"({"id":12,"uri":"http://bb:6335","leader":false}])"
                                           "\n");
  CHECK(RenderList({}, Format::kTable) == "");
  CHECK(RenderList({}, Format::kJson) == "[]\n");
}

TEST_CASE("ProgressBar fills in proportion, never past full", "[unit][qdctl]") {
  CHECK(ProgressBar(0, 100) == "[--------------------]");
  CHECK(ProgressBar(25, 100) == "[#####---------------]");
  CHECK(ProgressBar(100, 100) == "[####################]");
  CHECK(ProgressBar(150, 100) == "[####################]");
  CHECK(ProgressBar(5, 0) == "[--------------------]");
}
