// qdctl collection verify's verdicts (qdctl/verify.h) on replicas built for each case.
#include "qdctl/verify.h"

#include <catch2/catch.hpp>

namespace qd::qdctl {
namespace {

using Kind = ShardVerdict::Kind;

client::ReplicaDigest R(uint32_t shard, uint64_t peer, std::string digest, uint64_t op = 10,
                        std::string state = "Active") {
  client::ReplicaDigest r;
  r.shard_id = shard;
  r.peer_id = peer;
  r.state = std::move(state);
  r.last_op = op;
  r.points = 5;
  r.digest = std::move(digest);
  return r;
}

TEST_CASE("verify: equal digests at one op are consistent, per shard", "[unit][qdctl]") {
  std::vector<ShardVerdict> v =
      CompareReplicas({R(0, 1, "a"), R(0, 2, "a"), R(1, 2, "b"), R(1, 3, "b", 12, "Active")});
  REQUIRE(v.size() == 2);
  CHECK(v[0].kind == Kind::kConsistent);
  // Shard 1's replicas are at different ops: writes in flight, not a difference.
  CHECK(v[1].kind == Kind::kBusy);
}

TEST_CASE("verify: the digest most replicas share is the good copy", "[unit][qdctl]") {
  std::vector<ShardVerdict> v = CompareReplicas({R(0, 1, "bad"), R(0, 2, "good"), R(0, 3, "good")});
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::kDiffers);
  CHECK(v[0].good_peer == 3);
  CHECK(v[0].divergent == std::vector<uint64_t>{1});
}

TEST_CASE("verify: on a tie the highest peer (the ordering replica) holds the good copy",
          "[unit][qdctl]") {
  std::vector<ShardVerdict> v = CompareReplicas({R(0, 7, "x"), R(0, 9, "y")});
  REQUIRE(v.size() == 1);
  CHECK(v[0].kind == Kind::kDiffers);
  CHECK(v[0].good_peer == 9);
  CHECK(v[0].divergent == std::vector<uint64_t>{7});
}

TEST_CASE("verify: Dead, Partial and unreachable replicas are not compared", "[unit][qdctl]") {
  client::ReplicaDigest down = R(0, 3, "");
  down.error = "peer 3 unreachable";
  std::vector<ShardVerdict> v = CompareReplicas(
      {R(0, 1, "a"), R(0, 2, "other", 4, "Dead"), down, R(1, 1, "a"), R(1, 2, "b", 10, "Partial")});
  REQUIRE(v.size() == 2);
  CHECK(v[0].kind == Kind::kUnchecked);  // one comparable replica left
  CHECK(v[0].not_compared == std::vector<uint64_t>{2, 3});
  CHECK(v[1].kind == Kind::kUnchecked);
}

}  // namespace
}  // namespace qd::qdctl
