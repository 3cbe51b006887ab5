// LocalReplica (qdrantd/replica/local_replica.h): the two-stage write pipeline. Ops are logged
// (resolve + WAL append) and then applied in op order; a resolve that reads state waits until
// every logged op is applied; on_durable runs between the WAL append and the apply. The
// concurrent case is one to run under TSan (`make test-tsan`).
#include "qdrantd/replica/local_replica.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

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
  auto replica = LocalReplica::Open(dir, Specs(), LocalReplica::OptimizerOptions{});
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

}  // namespace
}  // namespace qd::replica
