// SQLite and renamed databases. A dropped collection's directory is renamed aside while requests
// in flight still hold its connections, and a new collection of the same name may be created at
// the old path before they close. On close, a WAL-mode connection checkpoints and deletes
// `<db>-wal` by its original name, which would take the new database's committed, not yet
// checkpointed transactions with it. SQLite checks first whether the file moved
// (SQLITE_FCNTL_HAS_MOVED) and then leaves the WAL alone; Collections::DropLocked relies on it,
// and this test is there to fail if that ever changes.
// Also: kBackground databases are checkpointed by the checkpoint thread, and their WAL stays
// bounded under a stream of commits; a delete does not write the pages it frees again.
#include "libshared/sqlite.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>

#include "tests/support/process.h"
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
  const Db::Checkpoints mode = GENERATE(Db::Checkpoints::kInline, Db::Checkpoints::kBackground);
  qd::test::TempDir tmp;
  const std::string dir = tmp.path() + "/c";
  std::filesystem::create_directories(dir);
  Result<std::unique_ptr<Db>> old_db = Db::Open(dir + "/points.db", Db::Sync::kNormal, mode);
  REQUIRE(old_db.ok());
  REQUIRE((*old_db)->Exec("CREATE TABLE t(x); INSERT INTO t VALUES(1)").ok());
  std::filesystem::rename(dir, tmp.path() + "/trash");

  std::filesystem::create_directories(dir);
  Result<std::unique_ptr<Db>> new_db = Db::Open(dir + "/points.db", Db::Sync::kNormal, mode);
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

// Commits `count` rows of `bytes` random bytes, one transaction each.
void InsertRows(Db& db, int count, int bytes) {
  Result<Stmt> insert = db.Prepare("INSERT INTO t VALUES(randomblob(?))");
  REQUIRE(insert.ok());
  for (int i = 0; i < count; ++i) REQUIRE(insert->Bind(1, int64_t{bytes}).Run().ok());
}

uintmax_t SizeOf(const std::string& path) {
  std::error_code ec;
  uintmax_t size = std::filesystem::file_size(path, ec);
  return ec ? 0 : size;
}

TEST_CASE("sqlite: the checkpoint thread copies a kBackground WAL into the database file",
          "[unit][sqlite]") {
  qd::test::TempDir tmp;
  const std::string path = tmp.path() + "/points.db";
  Result<std::unique_ptr<Db>> db = Db::Open(path, Db::Sync::kOff, Db::Checkpoints::kBackground);
  REQUIRE(db.ok());
  REQUIRE((*db)->Exec("CREATE TABLE t(x BLOB)").ok());
  // A few frames per commit: past kCheckpointPages after a few hundred commits. No commit
  // checkpoints inline below kInlineCheckpointPages, so the database file (two pages until
  // then) grows only if the thread ran. Its first run copies the 1,000 frames or more
  // committed by then, several hundred distinct pages; later runs may lag behind the last
  // commits (their frames wait in the WAL for the next commit past the mark to ask).
  InsertRows(**db, 800, 6000);
  CHECK(qd::test::PollUntil([&] { return SizeOf(path) > (uintmax_t{1} << 20); },
                            std::chrono::seconds(20)));
  CHECK(Count(**db, "SELECT count(*) FROM t") == 800);
}

TEST_CASE("sqlite: a kBackground WAL stays bounded under a stream of commits", "[unit][sqlite]") {
  qd::test::TempDir tmp;
  const std::string path = tmp.path() + "/points.db";
  Result<std::unique_ptr<Db>> db = Db::Open(path, Db::Sync::kOff, Db::Checkpoints::kBackground);
  REQUIRE(db.ok());
  REQUIRE((*db)->Exec("CREATE TABLE t(x BLOB)").ok());
  // 10,000+ pages in all, more than kInlineCheckpointPages: without checkpoints the WAL would
  // hold every one of them.
  uintmax_t largest = 0;
  for (int round = 0; round < 50; ++round) {
    InsertRows(**db, 50, 14000);  // 4 overflow pages a row
    largest = std::max(largest, SizeOf(path + "-wal"));
  }
  const uintmax_t page = static_cast<uintmax_t>(Count(**db, "PRAGMA page_size"));
  // A WAL frame is a page and a 24-byte header, after the 32-byte file header. The commit that
  // crosses kInlineCheckpointPages adds one commit's frames at most: a row's overflow pages,
  // its leaf and the pages a b-tree split rewrites (9 at most, measured with this SQLite).
  CHECK(largest <= (Db::kInlineCheckpointPages + 12) * (page + 24) + 32);
  CHECK(Count(**db, "SELECT count(*) FROM t") == 2500);
}

TEST_CASE("sqlite: deleting rows does not write their size again into the WAL", "[unit][sqlite]") {
  // A shard trims its WAL table of the ops an index checkpoint covers. With SQLite's
  // secure_delete on (Debian's default), every freed page was written again, as zeros.
  qd::test::TempDir tmp;
  const std::string path = tmp.path() + "/wal.db";
  Result<std::unique_ptr<Db>> db = Db::Open(path, Db::Sync::kOff);
  REQUIRE(db.ok());
  REQUIRE((*db)->Exec("CREATE TABLE t(x BLOB)").ok());
  InsertRows(**db, 200, 40000);  // ~8 MB, mostly overflow pages
  REQUIRE((*db)->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  REQUIRE(SizeOf(path + "-wal") == 0);
  REQUIRE((*db)->Exec("DELETE FROM t").ok());
  CHECK(SizeOf(path + "-wal") < (uintmax_t{1} << 20));
  CHECK(Count(**db, "SELECT count(*) FROM t") == 0);
}

}  // namespace
}  // namespace qd::sqlite
