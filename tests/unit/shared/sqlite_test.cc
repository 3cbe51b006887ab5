// SQLite and renamed databases. A dropped collection's directory is renamed aside while requests
// in flight still hold its connections, and a new collection of the same name may be created at
// the old path before they close. On close, a WAL-mode connection checkpoints and deletes
// `<db>-wal` by its original name, which would take the new database's committed, not yet
// checkpointed transactions with it. SQLite checks first whether the file moved
// (SQLITE_FCNTL_HAS_MOVED) and then leaves the WAL alone; Collections::DropLocked relies on it,
// and this test is there to fail if that ever changes.
#include "libshared/sqlite.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/temp_dir.h"

namespace qd::sqlite {
namespace {

int64_t Count(Db& db, const char* sql) {
  Result<Stmt> count = db.Prepare(sql);
  REQUIRE(count.ok());
  Result<bool> row = count->Step();
  REQUIRE((row.ok() && *row));
  return count->Int(0);
}

TEST_CASE("sqlite: closing a renamed database leaves the new database at its old path alone",
          "[unit][sqlite]") {
  qd::test::TempDir tmp;
  const std::string dir = tmp.path() + "/c";
  std::filesystem::create_directories(dir);
  Result<std::unique_ptr<Db>> old_db = Db::Open(dir + "/points.db", Db::Sync::kNormal);
  REQUIRE(old_db.ok());
  REQUIRE((*old_db)->Exec("CREATE TABLE t(x); INSERT INTO t VALUES(1)").ok());
  std::filesystem::rename(dir, tmp.path() + "/trash");

  std::filesystem::create_directories(dir);
  Result<std::unique_ptr<Db>> new_db = Db::Open(dir + "/points.db", Db::Sync::kNormal);
  REQUIRE(new_db.ok());
  REQUIRE((*new_db)->Exec("CREATE TABLE t(x); INSERT INTO t VALUES(1), (2), (3)").ok());
  REQUIRE(std::filesystem::exists(dir + "/points.db-wal"));  // the rows are in the WAL only

  old_db->reset();  // the last request holding the dropped collection lets go
  CHECK(std::filesystem::exists(dir + "/points.db-wal"));
  Result<std::unique_ptr<Db>> reader = Db::Open(dir + "/points.db", Db::Sync::kNormal);
  REQUIRE(reader.ok());
  REQUIRE(Count(**reader, "SELECT count(*) FROM sqlite_master WHERE name = 't'") == 1);
  CHECK(Count(**reader, "SELECT count(*) FROM t") == 3);
}

}  // namespace
}  // namespace qd::sqlite
