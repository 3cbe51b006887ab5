#include <catch2/catch.hpp>

#include "libshared/log.h"

using qd::log::Level;
using qd::log::ParseLevel;

TEST_CASE("log levels parse as Qdrant accepts them", "[unit][log]") {
  CHECK(ParseLevel("INFO") == Level::kInfo);
  CHECK(ParseLevel("debug") == Level::kDebug);
  CHECK(ParseLevel("Warn") == Level::kWarn);
  CHECK(ParseLevel("TRACE,raft::raft=info,actix_http=info,tonic=info") == Level::kTrace);
  CHECK(ParseLevel("raft::raft=info,error") == Level::kError);
  CHECK_FALSE(ParseLevel("loud").has_value());
  CHECK_FALSE(ParseLevel("raft=info").has_value());
  CHECK_FALSE(ParseLevel("").has_value());
}
