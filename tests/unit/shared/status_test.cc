#include <catch2/catch.hpp>

#include "libshared/status.h"

TEST_CASE("Status: OK is empty and errors carry code, message and context", "[unit][status]") {
  qd::Status ok;
  CHECK(ok.ok());
  CHECK(ok.message().empty());
  qd::Status s = qd::Status::NotFound("Collection `books` doesn't exist!");
  CHECK_FALSE(s.ok());
  CHECK(s.code() == qd::StatusCode::kNotFound);
  CHECK(s.WithContext("replica 3").message() == "replica 3: Collection `books` doesn't exist!");
  CHECK(ok.WithContext("x").ok());
}

TEST_CASE("Result holds a value or a failed status", "[unit][status]") {
  qd::Result<int> value = 7;
  REQUIRE(value.ok());
  CHECK(*value == 7);
  qd::Result<int> failed = qd::Status::InvalidArgument("bad");
  CHECK_FALSE(failed.ok());
  CHECK(failed.status().message() == "bad");
}
