// LocalReplica (qdrantd/replica/local_replica.h): the write pipeline. Ops are logged (resolve +
// WAL append, in groups that share one transaction) and then applied in op order; a resolve
// that reads state waits until every logged op is applied; on_durable runs between the WAL
// append and the apply; a failed WAL append stops the replica's writes. The concurrent cases
// are ones to run under TSan (`make test-tsan`).
#include "qdrantd/replica/local_replica.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "libshared/sqlite.h"
#include "tests/support/stalled_pipe.h"
#include "tests/support/temp_dir.h"

using qd::test::TempDir;

namespace qd::replica {
namespace {

using segment::OpKind;
using segment::OpNum;
using segment::Operation;
using segment::PointId;
using segment::Segment;

std::vector<segment::VectorSpec> Specs() {
  segment::VectorSpec spec;
  spec.dim = 4;
  spec.distance = index::Distance::kEuclid;
  return {spec};
}

std::unique_ptr<LocalReplica> OpenReplica(const std::string& dir) {
  auto replica = LocalReplica::Open(dir, Specs(), LocalReplica::Options{});
  REQUIRE(replica.ok());
  return std::move(*replica);
}

Operation Upsert(uint64_t id) {
  Operation op;
  op.kind = OpKind::kUpsert;
  segment::PointStruct p;
  p.id = PointId::Num(id);
  segment::Vector v;
  v.dense = {float(id), 1, 2, 3};
  p.vectors.emplace_back("", std::move(v));
  op.points.push_back(std::move(p));
  return op;
}

TEST_CASE("on_durable runs once the op is in the WAL and before it is applied") {
  TempDir dir;
  auto replica = OpenReplica(dir.path());
  bool durable_called = false;
  bool visible_when_durable = true;
  Result<OpNum> n = replica->Update([](const Segment&) -> Result<Operation> { return Upsert(7); },
                                    /*pure=*/true, [&](OpNum op) {
                                      durable_called = true;
                                      CHECK(op == 1);
                                      visible_when_durable = replica->segment().Exists(PointId::Num(7));
                                    });
  REQUIRE(n.ok());
  CHECK(*n == 1);
  CHECK(durable_called);
  CHECK_FALSE(visible_when_durable);
  CHECK(replica->segment().Exists(PointId::Num(7)));

  // An empty resolve logs nothing and never calls on_durable.
  durable_called = false;
  n = replica->Update([](const Segment&) -> Result<Operation> { return Operation{}; }, true,
                      [&](OpNum) { durable_called = true; });
  REQUIRE(n.ok());
  CHECK(*n == 0);
  CHECK_FALSE(durable_called);
  CHECK(replica->last_op() == 1);
}

TEST_CASE("concurrent updates apply in op order and a state-reading resolve sees every logged op") {
  TempDir dir;
  constexpr int kWriters = 3, kPerWriter = 60, kReads = 40;
  {
    auto replica = OpenReplica(dir.path());
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) {
      threads.emplace_back([&, w] {
        for (int i = 0; i < kPerWriter; ++i) {
          uint64_t id = uint64_t(w) * 1000 + uint64_t(i);
          Result<OpNum> n = replica->Update(
              [id](const Segment&) -> Result<Operation> { return Upsert(id); }, true, nullptr);
          if (!n.ok() || *n == 0) ++failures;
        }
      });
    }
    // A state-reading resolve: it must run with every earlier op applied, so the segment's
    // applied op is exactly the one before the op it gets.
    std::atomic<int> unseen{0};
    threads.emplace_back([&] {
      for (int i = 0; i < kReads; ++i) {
        OpNum applied_at_resolve = 0;
        Result<OpNum> n = replica->Update(
            [&, i](const Segment& seg) -> Result<Operation> {
              applied_at_resolve = seg.applied_op();
              return Upsert(100000 + uint64_t(i));
            },
            /*pure=*/false, nullptr);
        if (!n.ok()) {
          ++failures;
        } else if (applied_at_resolve + 1 != *n) {
          ++unseen;
        }
      }
    });
    for (std::thread& t : threads) t.join();
    CHECK(failures == 0);
    CHECK(unseen == 0);
    const size_t total = kWriters * kPerWriter + kReads;
    CHECK(replica->last_op() == total);
    CHECK(replica->segment().applied_op() == total);
    CHECK(replica->segment().Count(nullptr) == total);
  }
  // Everything acknowledged is there after a restart.
  auto reopened = OpenReplica(dir.path());
  CHECK(reopened->segment().Count(nullptr) == kWriters * kPerWriter + kReads);
  for (int w = 0; w < kWriters; ++w) {
    CHECK(reopened->segment().Exists(PointId::Num(uint64_t(w) * 1000 + kPerWriter - 1)));
  }
}

// Polls until the replica has `n` callers in stage 1 (a deadline, not a sleep).
bool WaitQueued(const LocalReplica& replica, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (replica.queued() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST_CASE("writers queued behind the front share its WAL transaction until a state-reading one") {
  TempDir dir;
  // The front's state-reading resolve holds the queue until the others are in it, in this
  // order: three pure writers, one state-reading, three pure. Expected groups: the front with
  // the three behind it, then the state-reading one with the last three.
  constexpr int kPure = 6;
  {
    auto replica = OpenReplica(dir.path());
    std::atomic<bool> release{false};
    std::vector<Result<OpNum>> results(kPure + 2, Status::Internal("not run"));
    std::vector<std::thread> threads;
    // A failed REQUIRE below still lets the front go and joins every writer.
    struct JoinAll {
      std::atomic<bool>& release;
      std::vector<std::thread>& threads;
      ~JoinAll() {
        release = true;
        for (std::thread& t : threads) {
          if (t.joinable()) t.join();
        }
      }
    } join_all{release, threads};
    threads.emplace_back([&] {
      results[0] = replica->Update(
          [&](const Segment&) -> Result<Operation> {
            while (!release) std::this_thread::yield();
            return Upsert(1);
          },
          /*pure=*/false, nullptr);
    });
    REQUIRE(WaitQueued(*replica, 1));
    auto pure_writer = [&](int slot, uint64_t id) {
      threads.emplace_back([&, slot, id] {
        results[slot] = replica->Update([id](const Segment&) -> Result<Operation> { return Upsert(id); },
                                        /*pure=*/true, nullptr);
      });
    };
    for (int i = 0; i < 3; ++i) {
      pure_writer(1 + i, 10 + uint64_t(i));
      REQUIRE(WaitQueued(*replica, 2 + size_t(i)));
    }
    OpNum applied_at_resolve = 0;
    threads.emplace_back([&] {
      results[4] = replica->Update(
          [&](const Segment& seg) -> Result<Operation> {
            applied_at_resolve = seg.applied_op();
            return Upsert(2);
          },
          /*pure=*/false, nullptr);
    });
    REQUIRE(WaitQueued(*replica, 5));
    for (int i = 0; i < 3; ++i) {
      pure_writer(5 + i, 20 + uint64_t(i));
      REQUIRE(WaitQueued(*replica, 6 + size_t(i)));
    }
    release = true;
    for (std::thread& t : threads) t.join();

    std::set<OpNum> numbers;
    for (const Result<OpNum>& r : results) {
      REQUIRE(r.ok());
      numbers.insert(*r);
    }
    CHECK(numbers == std::set<OpNum>{1, 2, 3, 4, 5, 6, 7, 8});
    CHECK(*results[0] == 1);  // the front's op leads its group
    CHECK(*results[4] == 5);  // and so does the state-reading one's
    CHECK(applied_at_resolve == 4);  // it saw the whole first group applied
    CHECK(replica->wal_commits() == 2);
    CHECK(replica->queued() == 0);
  }
  auto reopened = OpenReplica(dir.path());
  CHECK(reopened->segment().Count(nullptr) == kPure + 2);
  CHECK(reopened->last_op() == kPure + 2);
}

TEST_CASE("a failed WAL append fails the write and stops the replica's writes until reopened") {
  TempDir dir;
  {
    auto replica = OpenReplica(dir.path());
    REQUIRE(replica->Update([](const Segment&) -> Result<Operation> { return Upsert(1); }, true, nullptr).ok());
    {
      // Another connection takes the WAL's table away: the next append cannot be written.
      auto other = sqlite::Db::Open(dir.path() + "/wal.db", sqlite::Db::Sync::kFull);
      REQUIRE(other.ok());
      REQUIRE((*other)->Exec("DROP TABLE ops").ok());
    }
    bool durable_called = false;
    Result<OpNum> n = replica->Update([](const Segment&) -> Result<Operation> { return Upsert(2); }, true,
                                      [&](OpNum) { durable_called = true; });
    REQUIRE_FALSE(n.ok());
    CHECK(n.status().code() == StatusCode::kInternal);
    CHECK_THAT(n.status().message(), Catch::Contains("failed to append ops 2..2 to its WAL") &&
                                         Catch::Contains("refuses writes until restarted") &&
                                         Catch::Contains("no such table"));
    CHECK_FALSE(durable_called);
    CHECK_FALSE(replica->segment().Exists(PointId::Num(2)));

    // Refused from now on, even once the table is back, and reads still answer.
    {
      auto other = sqlite::Db::Open(dir.path() + "/wal.db", sqlite::Db::Sync::kFull);
      REQUIRE(other.ok());
      REQUIRE((*other)->Exec("CREATE TABLE ops(op INTEGER PRIMARY KEY, body BLOB NOT NULL)").ok());
    }
    n = replica->Update([](const Segment&) -> Result<Operation> { return Upsert(3); }, true, nullptr);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.status().message(), Catch::Contains("failed to append ops 2..2"));
    CHECK(replica->segment().Exists(PointId::Num(1)));
    CHECK(replica->last_op() == 1);
  }
  // Reopened, the replica writes again and kept what was acknowledged.
  auto reopened = OpenReplica(dir.path());
  CHECK(reopened->segment().Exists(PointId::Num(1)));
  Result<OpNum> n = reopened->Update([](const Segment&) -> Result<Operation> { return Upsert(4); }, true, nullptr);
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK(reopened->segment().Exists(PointId::Num(4)));
}

TEST_CASE("writes reach the WAL while a checkpoint saves the graph") {
  // The save writes into a pipe nobody reads, so Flush stops inside it with the apply and store
  // locks held. A new write must still be logged (on_durable runs) meanwhile; Flush used to hold
  // the WAL's lock for the whole save too, and acknowledgements waited for the graph's write.
  TempDir dir;
  auto replica = OpenReplica(dir.path());
  REQUIRE(replica->Update([](const Segment&) -> Result<Operation> {
    Operation op = Upsert(0);
    for (uint64_t id = 1; id < 2000; ++id) op.points.push_back(Upsert(id).points[0]);
    return op;
  }, true, nullptr).ok());  // ~300 KB of graph: far more than a pipe holds
  qd::test::StalledPipe pipe(dir.path() + "/index-0.hnsw.tmp");
  REQUIRE(pipe.ok());
  std::future<Status> flushed = std::async(std::launch::async, [&] { return replica->Flush(); });
  REQUIRE(pipe.WaitForWriter());  // the save is under way, the locks held

  std::promise<OpNum> durable;
  std::future<OpNum> logged = durable.get_future();
  std::future<Result<OpNum>> written = std::async(std::launch::async, [&] {
    return replica->Update([](const Segment&) -> Result<Operation> { return Upsert(5000); }, true,
                           [&](OpNum op) { durable.set_value(op); });
  });
  const bool logged_during_save = logged.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  pipe.Drain();  // the save, and then the write's apply, can finish
  CHECK(flushed.get().ok());
  CHECK(logged_during_save);
  Result<OpNum> n = written.get();
  REQUIRE(n.ok());
  CHECK(*n == 2);
  CHECK(replica->segment().Exists(PointId::Num(5000)));
}

}  // namespace
}  // namespace qd::replica

namespace qd::replica {
namespace {

Result<OpNum> Write(LocalReplica& r, uint64_t id) {
  return r.Update([id](const Segment&) -> Result<Operation> { return Upsert(id); }, true, nullptr);
}

std::vector<LocalReplica::NumberedOp> Numbered(OpNum first, std::vector<uint64_t> ids) {
  std::vector<LocalReplica::NumberedOp> out;
  for (uint64_t id : ids) out.push_back({first++, segment::Encode(Upsert(id))});
  return out;
}

TEST_CASE("the log listener sees every op logged, in op order, and which were numbered here",
          "[unit][replica]") {
  TempDir dir;
  auto replica = OpenReplica(dir.path());
  std::mutex mu;
  std::vector<OpNum> seen;
  std::vector<OpNum> replicated;
  std::vector<uint64_t> from_of_replicated;
  replica->SetLogListener(7,
                          [&](OpNum n, const std::string& body, bool ordered_here, uint64_t from) {
                            std::lock_guard<std::mutex> lock(mu);
                            (ordered_here ? seen : replicated).push_back(n);
                            if (ordered_here) CHECK(from == 7);
                            if (!ordered_here) from_of_replicated.push_back(from);
                            CHECK(segment::Decode(body).ok());
                          });
  std::vector<std::thread> writers;
  for (uint64_t t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (uint64_t i = 0; i < 25; ++i) REQUIRE(Write(*replica, t * 100 + i).ok());
    });
  }
  for (std::thread& w : writers) w.join();
  REQUIRE(seen.size() == 100);
  for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i + 1);
  std::vector<OpNum> logged;
  REQUIRE(replica->ApplyReplicated(9, Numbered(101, {1000, 1001}), &logged).ok());
  CHECK(seen.size() == 100);
  CHECK(replicated == std::vector<OpNum>{101, 102});
  CHECK(from_of_replicated == std::vector<uint64_t>{9, 9});
  CHECK(logged == std::vector<OpNum>{101, 102});
  // The same ops again (a second stream during a transfer's handover), and one new: only the
  // new one is logged, so only for it does the caller wait for the listener's receivers.
  logged.clear();
  REQUIRE(replica->ApplyReplicated(8, Numbered(101, {1000, 1001, 1002}), &logged).ok());
  CHECK(logged == std::vector<OpNum>{103});
  CHECK(replicated == std::vector<OpNum>{101, 102, 103});
}

TEST_CASE(
    "a follower replica logs the ordering replica's ops under the same numbers and refuses a gap",
    "[unit][replica]") {
  TempDir leader_dir, follower_dir;
  auto leader = OpenReplica(leader_dir.path());
  auto follower = OpenReplica(follower_dir.path());
  std::vector<LocalReplica::NumberedOp> stream;
  leader->SetLogListener(1, [&](OpNum n, const std::string& body, bool, uint64_t) {
    stream.push_back({n, body});
  });
  for (uint64_t id = 1; id <= 5; ++id) REQUIRE(Write(*leader, id).ok());
  REQUIRE(stream.size() == 5);

  // In order, in one batch: the same numbers, hence the same point versions.
  Result<OpNum> last = follower->ApplyReplicated(1, {stream.begin(), stream.begin() + 3});
  REQUIRE(last.ok());
  CHECK(*last == 3);
  // Another op under a number the follower already holds is refused (another ordering
  // replica's), and so is what comes behind it in the batch.
  std::vector<LocalReplica::NumberedOp> other = Numbered(3, {33});
  other.push_back(stream[3]);
  last = follower->ApplyReplicated(2, other);
  REQUIRE_FALSE(last.ok());
  CHECK(last.status().message().find("holds another op under that number") != std::string::npos);
  CHECK(follower->last_op() == 3);
  // The same op again (it came through two streams while a transfer handed over) is skipped.
  last = follower->ApplyReplicated(1, {stream.begin() + 2, stream.end()});
  REQUIRE(last.ok());
  CHECK(*last == 5);
  CHECK(follower->segment().points_count() == 5);
  segment::RecordBatch a = leader->segment().Retrieve({PointId::Num(4)}, {});
  segment::RecordBatch b = follower->segment().Retrieve({PointId::Num(4)}, {});
  REQUIRE(a.points.size() == 1);
  REQUIRE(b.points.size() == 1);
  CHECK(a.points[0].version == b.points[0].version);

  // A gap: op 7 when the follower is at 5 (and op 6 does not come within kGapWait). Nothing
  // of it is logged.
  Result<OpNum> gap = follower->ApplyReplicated(1, Numbered(7, {70}));
  REQUIRE_FALSE(gap.ok());
  CHECK(gap.status().code() == StatusCode::kFailedPrecondition);
  CHECK(gap.status().message().find("is at op 5 and cannot log op 7") != std::string::npos);
  CHECK(follower->last_op() == 5);
  CHECK(follower->segment().points_count() == 5);

  // Each WAL record keeps the peer that numbered it, on both sides.
  for (const std::string& path : {leader_dir.path(), follower_dir.path()}) {
    auto db = sqlite::Db::Open(path + "/wal.db", sqlite::Db::Sync::kFull);
    REQUIRE(db.ok());
    auto origins = (*db)->Prepare("SELECT COUNT(*) FROM ops WHERE origin = 1");
    REQUIRE(origins.ok());
    REQUIRE(*origins->Step());
    CHECK(origins->Int(0) == 5);
  }
  // What was logged survives a restart.
  follower.reset();
  follower = OpenReplica(follower_dir.path());
  CHECK(follower->last_op() == 5);
  CHECK(follower->segment().points_count() == 5);
}

TEST_CASE("a transfer's receiver continues from the source's op with its points and versions",
          "[unit][replica]") {
  TempDir source_dir, receiver_dir;
  auto source = OpenReplica(source_dir.path());
  for (uint64_t id = 1; id <= 6; ++id) REQUIRE(Write(*source, id).ok());
  REQUIRE(Write(*source, 2).ok());  // point 2 now has version 7

  // What the source sends: its state at its last op, read while nothing is logged.
  Operation points;
  std::vector<OpNum> versions;
  OpNum base = 0;
  REQUIRE(source
              ->WithQuiescedLog([&](OpNum last, const Segment& seg) {
                base = last;
                segment::RecordBatch all = seg.Scroll(std::nullopt, 100, nullptr, {});
                for (const segment::PointRecord& r : all.points) {
                  points.points.push_back(segment::PointStruct{r.id, {}, "{}"});
                  versions.push_back(r.version);
                }
                return Status::Ok();
              })
              .ok());
  CHECK(base == 7);

  // The receiver held other data (a Dead replica's): the reset drops it.
  auto receiver = OpenReplica(receiver_dir.path());
  for (uint64_t id = 50; id <= 60; ++id) REQUIRE(Write(*receiver, id).ok());
  REQUIRE(receiver->ResetTo(base).ok());
  CHECK(receiver->segment().points_count() == 0);
  REQUIRE(receiver->ApplyTransferred(points, versions).ok());
  CHECK(receiver->last_op() == 7);
  CHECK(receiver->segment().points_count() == 6);
  segment::RecordBatch two = receiver->segment().Retrieve({PointId::Num(2)}, {});
  REQUIRE(two.points.size() == 1);
  CHECK(two.points[0].version == 7);

  // The source's next op follows on the receiver, and all of it survives a restart.
  std::vector<LocalReplica::NumberedOp> next = Numbered(8, {100});
  REQUIRE(receiver->ApplyReplicated(1, next).ok());
  receiver.reset();
  receiver = OpenReplica(receiver_dir.path());
  CHECK(receiver->last_op() == 8);
  CHECK(receiver->segment().points_count() == 7);
  CHECK_FALSE(receiver->segment().Exists(PointId::Num(55)));
  two = receiver->segment().Retrieve({PointId::Num(2)}, {});
  REQUIRE(two.points.size() == 1);
  CHECK(two.points[0].version == 7);
}

TEST_CASE("a replica's clock names its last op until a reset leaves it incomplete",
          "[unit][replica]") {
  TempDir dir;
  auto replica = OpenReplica(dir.path());
  Result<std::optional<LocalReplica::Clock>> clock = replica->LastClock();
  REQUIRE(clock.ok());
  CHECK_FALSE(*clock);  // holds no op
  for (uint64_t id = 1; id <= 5; ++id) REQUIRE(Write(*replica, id).ok());
  clock = replica->LastClock();
  REQUIRE(clock.ok());
  REQUIRE(*clock);
  CHECK((*clock)->op == 5);
  CHECK((*clock)->hash == LocalReplica::OpHash(segment::Encode(Upsert(5))));
  CHECK((*clock)->hash != LocalReplica::OpHash(segment::Encode(Upsert(4))));

  // A transfer's reset: incomplete until MarkComplete, across a restart too, whatever it logs.
  REQUIRE(replica->ResetTo(20).ok());
  REQUIRE(replica->ApplyReplicated(1, Numbered(21, {7})).ok());
  CHECK_FALSE(*replica->LastClock());
  replica.reset();
  replica = OpenReplica(dir.path());
  CHECK(replica->last_op() == 21);
  CHECK_FALSE(*replica->LastClock());
  REQUIRE(replica->MarkComplete().ok());
  REQUIRE(*replica->LastClock());
  CHECK((*replica->LastClock())->op == 21);
  replica.reset();
  replica = OpenReplica(dir.path());
  REQUIRE(*replica->LastClock());
}

TEST_CASE("a wal_delta source reads the ops after the receiver's last one, quiesced",
          "[unit][replica]") {
  TempDir dir;
  auto replica = OpenReplica(dir.path());
  for (uint64_t id = 1; id <= 8; ++id) REQUIRE(Write(*replica, id).ok());
  std::vector<OpNum> seen;
  REQUIRE(replica
              ->WithQuiescedOps(5,
                                [&](OpNum last, std::vector<LocalReplica::NumberedOp> ops) {
                                  CHECK(last == 8);
                                  for (const auto& op : ops) seen.push_back(op.op_num);
                                  return Status::Ok();
                                })
              .ok());
  CHECK(seen == std::vector<OpNum>{5, 6, 7, 8});
  // Right after the last op: none to read. Beyond it: ops this WAL never held.
  size_t after_last = 1;
  CHECK(replica
            ->WithQuiescedOps(9,
                              [&](OpNum, std::vector<LocalReplica::NumberedOp> ops) {
                                after_last = ops.size();
                                return Status::Ok();
                              })
            .ok());
  CHECK(after_last == 0);
  Status beyond = replica->WithQuiescedOps(10, [](OpNum, auto) { return Status::Ok(); });
  CHECK(beyond.code() == StatusCode::kNotFound);
}

TEST_CASE("a checkpoint keeps the newest wal_retain_bytes of ops and always the last op",
          "[unit][replica]") {
  TempDir dir;
  const size_t op_bytes = segment::Encode(Upsert(1)).size();
  LocalReplica::Options options;
  options.wal_retain_bytes = op_bytes * 3;  // room for 3 ops
  auto opened = LocalReplica::Open(dir.path(), Specs(), options);
  REQUIRE(opened.ok());
  std::unique_ptr<LocalReplica> replica = std::move(*opened);
  for (uint64_t id = 1; id <= 10; ++id) REQUIRE(Write(*replica, id).ok());
  REQUIRE(replica->Flush().ok());
  CHECK(replica->ReadOps(8, 10).ok());
  CHECK(replica->ReadOps(7, 10).status().code() == StatusCode::kNotFound);
  REQUIRE(*replica->LastClock());

  // Smaller than one op: the last op stays all the same, so the clock can still be read.
  options.wal_retain_bytes = 1;
  replica.reset();
  opened = LocalReplica::Open(dir.path(), Specs(), options);
  REQUIRE(opened.ok());
  replica = std::move(*opened);
  REQUIRE(Write(*replica, 11).ok());
  REQUIRE(replica->Flush().ok());
  CHECK(replica->ReadOps(11, 11).ok());
  CHECK(replica->ReadOps(10, 11).status().code() == StatusCode::kNotFound);
  REQUIRE(*replica->LastClock());
  CHECK((*replica->LastClock())->op == 11);
}

TEST_CASE(
    "a snapshot opens as the replica it was taken from, graph checkpoint included, and pins the "
    "WAL after its checkpoint while the transfer needs it",
    "[unit][replica]") {
  TempDir dir, out;
  LocalReplica::Options options;
  options.wal_retain_bytes = 1;  // a checkpoint keeps only the last op, unless pinned
  auto opened = LocalReplica::Open(dir.path() + "/src", Specs(), options);
  REQUIRE(opened.ok());
  std::unique_ptr<LocalReplica> source = std::move(*opened);
  for (uint64_t id = 1; id <= 20; ++id) REQUIRE(Write(*source, id).ok());
  REQUIRE(source->Flush().ok());  // index checkpoint at op 20
  for (uint64_t id = 21; id <= 30; ++id) REQUIRE(Write(*source, id).ok());

  Result<LocalReplica::Snapshot> snapshot = source->CaptureSnapshot(out.path() + "/snap");
  REQUIRE(snapshot.ok());
  CHECK(snapshot->points == 30);
  std::set<std::string> files(snapshot->files.begin(), snapshot->files.end());
  CHECK(files == std::set<std::string>{"index-0.hnsw", "points.db", "wal.db"});
  for (const std::string& f : snapshot->files) CHECK(LocalReplica::IsSnapshotFile(f));
  CHECK_FALSE(LocalReplica::IsSnapshotFile("../points.db"));
  CHECK_FALSE(LocalReplica::IsSnapshotFile("index-x.hnsw"));

  // Written after the snapshot: a delta brings them. The pin keeps them through checkpoints.
  for (uint64_t id = 31; id <= 35; ++id) REQUIRE(Write(*source, id).ok());
  REQUIRE(source->Flush().ok());
  CHECK(source->ReadOps(21, 35).ok());
  snapshot->pin.reset();
  REQUIRE(Write(*source, 36).ok());
  REQUIRE(source->Flush().ok());
  CHECK(source->ReadOps(35, 36).status().code() == StatusCode::kNotFound);  // unpinned: trimmed

  auto copy = LocalReplica::Open(out.path() + "/snap", Specs(), options);
  REQUIRE(copy.ok());
  CHECK((*copy)->last_op() == 30);
  CHECK((*copy)->segment().points_count() == 30);
  CHECK((*copy)->segment().index_op() == 20);  // the graph came with it
  for (uint64_t id = 1; id <= 30; ++id) CHECK((*copy)->segment().Exists(PointId::Num(id)));
  CHECK_FALSE((*copy)->segment().Exists(PointId::Num(31)));
}

}  // namespace
}  // namespace qd::replica
