// The pure parts of cluster/: transitions, placement, serialisation (table-driven where it fits).
#include <catch2/catch.hpp>

#include "qdrantd/cluster/meta_operation.h"
#include "qdrantd/cluster/placement.h"
#include "qdrantd/cluster/state_machine.h"

using namespace qd::cluster;

namespace {

ClusterState ThreePeers() {
  ClusterState s;
  for (PeerId id : {10u, 20u, 30u}) REQUIRE(ApplyOperation(s, MetaOperation::UpsertPeer(id, "http://h:" + std::to_string(id))).ok());
  return s;
}

// Collection "c" with one shard (0) whose replicas are on `peers`, all Active.
ClusterState OneShardOn(std::vector<PeerId> peers) {
  ClusterState s = ThreePeers();
  MetaOperation create = MetaOperation::CreateCollection("c", "{}", 1, 1);
  create.placement[0] = peers;
  REQUIRE(ApplyOperation(s, create).ok());
  for (PeerId p : peers) {
    REQUIRE(
        ApplyOperation(s, MetaOperation::SetReplicaState("c", 0, p, ReplicaState::kActive)).ok());
  }
  return s;
}

MetaOperation TransferOp(MetaOperation::Kind kind, PeerId from, PeerId to, bool sync) {
  MetaOperation op;
  op.kind = kind;
  op.transfer = Transfer{.collection = "c", .shard = 0, .from = from, .to = to, .sync = sync};
  return op;
}

using K = MetaOperation::Kind;

}  // namespace

TEST_CASE("placement spreads replication_factor distinct peers per shard evenly", "[consensus]") {
  auto p = PlaceReplicas({3, 1, 2}, 6, 2);
  REQUIRE(p.size() == 6);
  std::map<PeerId, int> count;
  for (const auto& [sid, peers] : p) {
    REQUIRE(peers.size() == 2);
    CHECK(peers[0] != peers[1]);
    for (PeerId id : peers) ++count[id];
  }
  CHECK(count == std::map<PeerId, int>{{1, 4}, {2, 4}, {3, 4}});
  CHECK(PlaceReplicas({1, 2}, 1, 5).at(0).size() == 2);  // capped at the peer count
  CHECK(PlaceReplicas({}, 3, 1).empty());
}

TEST_CASE("shard_number defaults to the number of peers", "[consensus]") {
  ClusterState s = ThreePeers();
  REQUIRE(ApplyOperation(s, MetaOperation::CreateCollection("c", "{}", std::nullopt, 1)).ok());
  CHECK(s.collections.at("c").shards.size() == 3);
}

TEST_CASE("peer removal without force is refused while it holds replicas", "[consensus]") {
  ClusterState s = OneShardOn({10});
  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 20, false)).ok());
  CHECK(ApplyOperation(s, MetaOperation::RemovePeer(10, false)).code() == qd::StatusCode::kFailedPrecondition);
  REQUIRE(ApplyOperation(s, MetaOperation::RemovePeer(10, true)).ok());
  CHECK_FALSE(s.peers.count(10));
  CHECK_FALSE(s.HoldsReplicas(10));
  CHECK(s.transfers.empty());
  CHECK(s.removed_peers.count(10));
  // A removed id never comes back.
  CHECK(ApplyOperation(s, MetaOperation::UpsertPeer(10, "http://new:1")).code() ==
        qd::StatusCode::kFailedPrecondition);
}

TEST_CASE("a newcomer with a registered URI replaces an empty peer and is refused otherwise",
          "[consensus]") {
  ClusterState s = ThreePeers();
  REQUIRE(ApplyOperation(s, MetaOperation::UpsertPeer(40, "http://h:30")).ok());
  CHECK_FALSE(s.peers.count(30));
  CHECK(s.peers.at(40).uri == "http://h:30");
  REQUIRE(ApplyOperation(s, MetaOperation::CreateCollection("c", "{}", 3, 1)).ok());
  ClusterState before = s;
  CHECK(ApplyOperation(s, MetaOperation::UpsertPeer(50, "http://h:30")).code() == qd::StatusCode::kAlreadyExists);
  CHECK(s == before);
  // The same peer announcing a new URI keeps its id.
  REQUIRE(ApplyOperation(s, MetaOperation::UpsertPeer(40, "http://h:41")).ok());
  CHECK(s.peers.at(40).uri == "http://h:41");
}

TEST_CASE("the cluster state and every operation kind round-trip through their encodings",
          "[consensus]") {
  ClusterState s = ThreePeers();
  REQUIRE(ApplyOperation(s, MetaOperation::CreateCollection("c", R"({"a":[1,2,{"b":null}]})", 2, 2))
              .ok());
  REQUIRE(ApplyOperation(s, MetaOperation::CreateAlias("al", "c")).ok());
  REQUIRE(ApplyOperation(s, MetaOperation::SetMetadata("k", R"({"x":1.5})")).ok());
  // A replica of shard 1, Active, and an automatic transfer to a peer that has none.
  PeerId holder = s.collections.at("c").shards.at(1).replicas.begin()->first;
  PeerId other = 10;
  while (s.collections.at("c").shards.at(1).replicas.count(other)) other += 10;
  REQUIRE(ApplyOperation(s, MetaOperation::SetReplicaState("c", 1, holder, ReplicaState::kActive))
              .ok());
  MetaOperation start;
  start.kind = MetaOperation::Kind::kStartTransfer;
  start.transfer = Transfer{.collection = "c",
                            .shard = 1,
                            .from = holder,
                            .to = other,
                            .method = "snapshot",
                            .sync = true,
                            .automatic = true};
  start.transfer_limits = {1, 2};
  REQUIRE(ApplyOperation(s, start).ok());
  MetaOperation restart = start;
  restart.kind = MetaOperation::Kind::kRestartTransfer;
  restart.transfer.method = "wal_delta";
  REQUIRE(ApplyOperation(s, restart).ok());
  REQUIRE(s.transfers.size() == 1);
  CHECK(s.transfers[0].restarts == 1);  // and it survives the encoding below
  MetaOperation update = start;
  update.kind = MetaOperation::Kind::kUpdateTransfer;
  s.applied_index = 77;
  auto back = ClusterState::FromJson(s.ToJson());
  REQUIRE(back.ok());
  CHECK(*back == s);

  for (const MetaOperation& op :
       {MetaOperation::UpsertPeer(7, "http://x:1", NodeType::kListener),
        MetaOperation::RemovePeer(7, true),
        MetaOperation::CreateCollection("c", R"({"z":true})", 4, 3),
        MetaOperation::DropCollection("c"),
        MetaOperation::SetReplicaState("c", 3, 9, ReplicaState::kPartial),
        MetaOperation::CreateAlias("a", "c"), MetaOperation::DeleteAlias("a"),
        MetaOperation::SetMetadata("k", "[1]"), MetaOperation::DeleteMetadata("k"),
        MetaOperation::ChangeAliases({{MetaOperation::AliasChange::kCreate, "a", "c", ""},
                                      {MetaOperation::AliasChange::kRename, "a", "", "b"},
                                      {MetaOperation::AliasChange::kDelete, "b", "", ""}}),
        start, restart, update}) {
    auto decoded = MetaOperation::Decode(op.Encode());
    REQUIRE(decoded.ok());
    CHECK(decoded->Encode() == op.Encode());
  }
  CHECK_FALSE(MetaOperation::Decode(R"({"v":2,"kind":"drop_collection"})").ok());
  CHECK_FALSE(MetaOperation::Decode("garbage").ok());
}

TEST_CASE("alias actions of one change apply in order and stop at the first error", "[consensus]") {
  // ApplyOperation stops at the failing action; StateMachine::Apply keeps the state only when
  // the whole operation succeeded, so a request's actions apply all or none (the cluster test
  // "collections and aliases changed through any node..." checks that end to end).
  using Change = MetaOperation::AliasChange;
  ClusterState s = ThreePeers();
  REQUIRE(ApplyOperation(s, MetaOperation::CreateCollection("c", "{}", 1, 1)).ok());
  REQUIRE(ApplyOperation(s, MetaOperation::CreateAlias("old", "c")).ok());
  ClusterState scratch = s;
  qd::Status st = ApplyOperation(scratch, MetaOperation::ChangeAliases({{Change::kRename, "old", "", "new"},
                                                                       {Change::kDelete, "missing", "", ""}}));
  CHECK(st.code() == qd::StatusCode::kNotFound);
  CHECK(st.message() == "Alias `missing` doesn't exist!");
  REQUIRE(ApplyOperation(s, MetaOperation::ChangeAliases({{Change::kRename, "old", "", "new"},
                                                          {Change::kCreate, "more", "c", ""}})).ok());
  CHECK(s.aliases == std::map<std::string, std::string>{{"more", "c"}, {"new", "c"}});
  CHECK(ApplyOperation(s, MetaOperation::ChangeAliases({{Change::kCreate, "x", "nope", ""}})).message() ==
        "Collection `nope` doesn't exist!");
}

TEST_CASE("a restored state machine publishes the snapshot's state", "[consensus]") {
  qd::server::Loop loop;
  StateMachine a, b;
  ClusterState s = ThreePeers();
  REQUIRE(ApplyOperation(s, MetaOperation::SetMetadata("k", "true")).ok());
  a.ResetForTesting(loop.Enter(), s);
  int notified = 0;
  b.Subscribe(loop.Enter(), [&](qd::server::OnLoop, const std::shared_ptr<const ClusterState>& st) {
    ++notified;
    CHECK(st->metadata.at("k") == "true");
  });
  REQUIRE(b.Restore(loop.Enter(), a.Snapshot(loop.Enter()), 5).ok());
  CHECK(notified == 1);
  CHECK(*b.Current() == s);
}

TEST_CASE("with a reconciler attached, a proposer's result waits until its entry is reconciled",
          "[consensus]") {
  qd::server::Loop loop;
  StateMachine fsm;
  std::vector<std::pair<std::string, bool>> answered;
  fsm.OnResult([&](qd::server::OnLoop, const std::string& id, const qd::Status& s) { answered.emplace_back(id, s.ok()); });
  fsm.HoldResultsUntilReconciled(loop.Enter());
  auto op = [](const std::string& request_id, const std::string& key) {
    MetaOperation m = MetaOperation::SetMetadata(key, "1");
    m.request_id = request_id;
    return m.Encode();
  };
  fsm.Apply(loop.Enter(), 3, op("a", "x"));
  MetaOperation failing = MetaOperation::DropCollection("missing");
  failing.request_id = "b";
  fsm.Apply(loop.Enter(), 4, failing.Encode());
  fsm.Apply(loop.Enter(), 6, op("c", "y"));
  CHECK(answered.empty());
  CHECK(fsm.Current()->applied_index == 6);
  // The reconciler finished with the state of index 4 (it coalesces: 3 was never seen alone).
  fsm.Reconciled(loop.Enter(), 4);
  REQUIRE(answered.size() == 2);
  CHECK(answered[0] == std::make_pair(std::string("a"), true));
  CHECK(answered[1] == std::make_pair(std::string("b"), false));  // the FSM's verdict, kept
  fsm.Reconciled(loop.Enter(), 6);
  REQUIRE(answered.size() == 3);
  CHECK(answered[2].first == "c");
  CHECK(fsm.reconciled_index() == 6);
  // Later entries wait for their own reconcile.
  fsm.Apply(loop.Enter(), 7, op("d", "z"));
  CHECK(answered.size() == 3);
  fsm.Reconciled(loop.Enter(), 7);
  CHECK(answered.size() == 4);
}

TEST_CASE("the recent verdicts are bounded, oldest dropped first, and survive a snapshot",
          "[consensus]") {
  ClusterState s = ThreePeers();
  for (size_t i = 0; i < ClusterState::kRecentResults + 44; ++i) {
    qd::Status verdict = i % 2 ? qd::Status::AlreadyExists("Wrong input: Collection `c" +
                                                           std::to_string(i) + "` already exists!")
                               : qd::Status::Ok();
    s.RecordResult("p-" + std::to_string(i), verdict);
  }
  CHECK(s.recent_results.size() == ClusterState::kRecentResults);
  CHECK_FALSE(s.ResultOf("p-43").has_value());
  REQUIRE(s.ResultOf("p-44").has_value());
  CHECK(s.ResultOf("p-44")->ok());
  auto back = ClusterState::FromJson(s.ToJson());
  REQUIRE(back.ok());
  CHECK(*back == s);
  REQUIRE(back->ResultOf("p-299").has_value());
  CHECK(back->ResultOf("p-299")->code() == qd::StatusCode::kAlreadyExists);
  CHECK(back->ResultOf("p-299")->message() == "Wrong input: Collection `c299` already exists!");
  // A snapshot written before verdicts were recorded restores with none.
  auto old = ClusterState::FromJson(R"({"v":1,"applied_index":3})");
  REQUIRE(old.ok());
  CHECK(old->recent_results.empty());
}

TEST_CASE("a restore reports the verdicts the snapshot carries to the proposers", "[consensus]") {
  qd::server::Loop loop;
  StateMachine a, b;
  std::map<std::string, qd::Status> heard;
  b.OnResult(
      [&](qd::server::OnLoop, const std::string& id, const qd::Status& st) { heard[id] = st; });
  MetaOperation upsert = MetaOperation::UpsertPeer(10, "http://h:10");
  MetaOperation create = MetaOperation::CreateCollection("c", "{}", 1, 1);
  create.request_id = "10-7-1";
  MetaOperation again = create;
  again.request_id = "10-7-2";
  a.Apply(loop.Enter(), 1, upsert.Encode());
  a.Apply(loop.Enter(), 2, create.Encode());
  a.Apply(loop.Enter(), 3, again.Encode());
  REQUIRE(b.Restore(loop.Enter(), a.Snapshot(loop.Enter()), 3).ok());
  REQUIRE(heard.size() == 2);
  CHECK(heard.at("10-7-1").ok());
  CHECK(heard.at("10-7-2").code() == qd::StatusCode::kAlreadyExists);
  CHECK(heard.at("10-7-2").message() == "Wrong input: Collection `c` already exists!");
}

TEST_CASE("a transfer's receiver is Partial, then Active, and a move drops its source",
          "[consensus]") {
  ClusterState s = OneShardOn({10});
  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 20, true)).ok());
  CHECK(s.collections.at("c").shards.at(0).replicas.at(20) == ReplicaState::kPartial);
  CHECK(s.transfers.size() == 1);
  // One transfer of a shard per peer at a time.
  CHECK(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 30, true)).code() ==
        qd::StatusCode::kInvalidArgument);
  REQUIRE(ApplyOperation(s, TransferOp(K::kFinishTransfer, 10, 20, true)).ok());
  CHECK(s.collections.at("c").shards.at(0).replicas ==
        std::map<PeerId, ReplicaState>{{10, ReplicaState::kActive}, {20, ReplicaState::kActive}});
  CHECK(s.transfers.empty());

  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 20, 30, false)).ok());
  REQUIRE(ApplyOperation(s, TransferOp(K::kFinishTransfer, 20, 30, false)).ok());
  CHECK(s.collections.at("c").shards.at(0).replicas ==
        std::map<PeerId, ReplicaState>{{10, ReplicaState::kActive}, {30, ReplicaState::kActive}});
}

TEST_CASE("transfers are refused from a replica that is not Active, to the source, and twice",
          "[consensus]") {
  ClusterState s = OneShardOn({10, 20});
  REQUIRE(ApplyOperation(s, MetaOperation::SetReplicaState("c", 0, 20, ReplicaState::kDead)).ok());
  qd::Status st = ApplyOperation(s, TransferOp(K::kStartTransfer, 20, 30, true));
  CHECK(st.code() == qd::StatusCode::kInvalidArgument);
  CHECK(st.message().find("no Active replica on peer 20") != std::string::npos);
  st = ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 10, false));
  CHECK(st.code() == qd::StatusCode::kUnprocessable);
  CHECK(st.message().find("cannot transfer shard to itself") != std::string::npos);
  // Moving onto a peer that holds a replica is refused; replicating onto it recovers it.
  CHECK(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 20, false)).code() ==
        qd::StatusCode::kInvalidArgument);
  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 20, true)).ok());
  CHECK(s.collections.at("c").shards.at(0).replicas.at(20) == ReplicaState::kPartial);
}

TEST_CASE("an aborted replication leaves its receiver Dead, an aborted move leaves no trace",
          "[consensus]") {
  ClusterState s = OneShardOn({10});
  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 20, true)).ok());
  REQUIRE(ApplyOperation(s, TransferOp(K::kAbortTransfer, 10, 20, true)).ok());
  CHECK(s.collections.at("c").shards.at(0).replicas.at(20) == ReplicaState::kDead);
  CHECK(s.transfers.empty());
  qd::Status gone = ApplyOperation(s, TransferOp(K::kAbortTransfer, 10, 20, true));
  CHECK(gone.code() == qd::StatusCode::kNotFound);
  CHECK(gone.message().find("does not exist") != std::string::npos);

  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 30, false)).ok());
  REQUIRE(ApplyOperation(s, TransferOp(K::kAbortTransfer, 10, 30, false)).ok());
  CHECK_FALSE(s.collections.at("c").shards.at(0).replicas.count(30));
  CHECK(s.collections.at("c").shards.at(0).replicas.at(10) == ReplicaState::kActive);
}

TEST_CASE("a transfer whose source or receiver goes Dead or away is aborted", "[consensus]") {
  ClusterState s = OneShardOn({10, 20});
  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 30, true)).ok());
  REQUIRE(ApplyOperation(s, MetaOperation::SetReplicaState("c", 0, 10, ReplicaState::kDead)).ok());
  CHECK(s.transfers.empty());
  CHECK(s.collections.at("c").shards.at(0).replicas.at(30) == ReplicaState::kDead);

  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 20, 10, true)).ok());
  REQUIRE(ApplyOperation(s, MetaOperation::RemovePeer(20, true)).ok());
  CHECK(s.transfers.empty());
  // The receiver of the aborted replication stays Dead; the last Active replica went with
  // peer 20 (forced removal is the operator's call).
  CHECK(s.collections.at("c").shards.at(0).replicas.at(10) == ReplicaState::kDead);
}

TEST_CASE("drop_replica keeps a shard's last Active replica", "[consensus]") {
  ClusterState s = OneShardOn({10, 20});
  MetaOperation drop;
  drop.kind = K::kRemoveReplica;
  drop.collection = "c";
  drop.shard = 0;
  drop.peer_id = 20;
  REQUIRE(ApplyOperation(s, drop).ok());
  drop.peer_id = 10;
  CHECK(ApplyOperation(s, drop).code() == qd::StatusCode::kInvalidArgument);
  drop.peer_id = 30;
  CHECK(ApplyOperation(s, drop).code() == qd::StatusCode::kNotFound);
}

TEST_CASE("automatic transfers stay within the limits, counting every transfer", "[consensus]") {
  ClusterState s = OneShardOn({10});
  MetaOperation create = MetaOperation::CreateCollection("d", "{}", 1, 1);
  create.placement[0] = {10};
  REQUIRE(ApplyOperation(s, create).ok());
  REQUIRE(
      ApplyOperation(s, MetaOperation::SetReplicaState("d", 0, 10, ReplicaState::kActive)).ok());
  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 20, true)).ok());  // the user's
  MetaOperation automatic;
  automatic.kind = K::kStartTransfer;
  automatic.transfer = Transfer{
      .collection = "d", .shard = 0, .from = 10, .to = 30, .sync = true, .automatic = true};
  automatic.transfer_limits = {1, 1};
  CHECK(ApplyOperation(s, automatic).code() == qd::StatusCode::kFailedPrecondition);
  automatic.transfer_limits = {1, 2};
  REQUIRE(ApplyOperation(s, automatic).ok());
  CHECK(s.transfers.size() == 2);
}

TEST_CASE(
    "restart_transfer sets the method and counts the restart, update_transfer the method only",
    "[consensus]") {
  ClusterState s = OneShardOn({10});
  REQUIRE(ApplyOperation(s, TransferOp(K::kStartTransfer, 10, 20, true)).ok());
  MetaOperation update = TransferOp(K::kUpdateTransfer, 10, 20, true);
  update.transfer.method = "stream_records";
  REQUIRE(ApplyOperation(s, update).ok());
  CHECK(s.transfers[0].method == "stream_records");
  CHECK(s.transfers[0].restarts == 0);
  MetaOperation restart = TransferOp(K::kRestartTransfer, 10, 20, true);
  restart.transfer.method = "wal_delta";
  REQUIRE(ApplyOperation(s, restart).ok());
  REQUIRE(ApplyOperation(s, restart).ok());
  CHECK(s.transfers[0].method == "wal_delta");
  CHECK(s.transfers[0].restarts == 2);
  CHECK(s.collections.at("c").shards.at(0).replicas.at(20) == ReplicaState::kPartial);
  // Neither exists for a transfer that does not.
  CHECK(ApplyOperation(s, TransferOp(K::kRestartTransfer, 10, 30, true)).code() ==
        qd::StatusCode::kNotFound);
  CHECK(ApplyOperation(s, TransferOp(K::kUpdateTransfer, 10, 30, true)).code() ==
        qd::StatusCode::kNotFound);
}

TEST_CASE("a transfer's method: the request's, else the configured one, else auto", "[consensus]") {
  using Opt = std::optional<std::string>;
  CHECK(ChooseTransferMethod(Opt("stream_records"), Opt("wal_delta"), true) == "stream_records");
  CHECK(ChooseTransferMethod(Opt("wal_delta"), std::nullopt, false) == "wal_delta");
  CHECK(ChooseTransferMethod(std::nullopt, Opt("wal_delta"), false) == "wal_delta");
  CHECK(ChooseTransferMethod(std::nullopt, Opt("stream_records"), true) == "stream_records");
  CHECK(ChooseTransferMethod(Opt("snapshot"), Opt("stream_records"), true) == "snapshot");
  CHECK(ChooseTransferMethod(std::nullopt, Opt("snapshot"), true) == "snapshot");
  // Auto: a delta when the receiver already holds a replica to continue from, else a snapshot.
  CHECK(ChooseTransferMethod(std::nullopt, std::nullopt, true) == "wal_delta");
  CHECK(ChooseTransferMethod(std::nullopt, std::nullopt, false) == "snapshot");
}
