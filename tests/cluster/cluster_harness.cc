#include "tests/cluster/cluster_harness.h"

#include <grpcpp/grpcpp.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "p2p.grpc.pb.h"

namespace qd::test {

ClusterPeer::ClusterPeer(std::map<std::string, std::string> env) : env_(std::move(env)) { NewPorts(); }

// Process's destructor SIGKILLs and reaps. With QD_TEST_PEER_LOGS=<dir> set, the peer's stderr
// is kept there (the working directory goes with the TempDir): how a rare failure is read.
ClusterPeer::~ClusterPeer() {
  const char* keep = std::getenv("QD_TEST_PEER_LOGS");
  if (!keep || !process_) return;
  std::ofstream out(std::string(keep) + "/" + std::to_string(::getpid()) + "-" +
                    std::to_string(p2p_port_) + ".stderr");
  out << process_->Stderr();
}

void ClusterPeer::NewPorts() {
  http_port_ = FreePort();
  grpc_port_ = FreePort();
  p2p_port_ = FreePort();
}

void ClusterPeer::Start(const std::optional<std::string>& bootstrap, std::vector<std::string> extra) {
  ProcessOptions p;
  p.args = {QdrantdBinary(), "--uri", uri()};
  if (bootstrap) {
    p.args.push_back("--bootstrap");
    p.args.push_back(*bootstrap);
  }
  p.args.insert(p.args.end(), extra.begin(), extra.end());
  p.working_dir = dir_.path();
  p.unset_env = {"RUN_MODE", "QDRANT_URI", "QDRANT_BOOTSTRAP"};
  p.env = {{"QDRANT__CLUSTER__ENABLED", "true"},
           {"QDRANT__SERVICE__HOST", "127.0.0.1"},
           {"QDRANT__SERVICE__HTTP_PORT", std::to_string(http_port_)},
           {"QDRANT__SERVICE__GRPC_PORT", std::to_string(grpc_port_)},
           {"QDRANT__CLUSTER__P2P__PORT", std::to_string(p2p_port_)}};
  for (const auto& [k, v] : env_) p.env[k] = v;
  process_.reset();
  process_ = std::make_unique<Process>(std::move(p));
}

void ClusterPeer::Kill(int signo) {
  if (process_) process_->Signal(signo);
}

std::optional<int> ClusterPeer::Stop() {
  if (!process_) return std::nullopt;
  process_->Signal(SIGTERM);
  return process_->Wait(std::chrono::seconds(15));
}

bool ClusterPeer::Running() { return process_ && process_->Running(); }

std::optional<int> ClusterPeer::WaitExit(std::chrono::milliseconds timeout) {
  return process_ ? process_->Wait(timeout) : std::nullopt;
}

bool ClusterPeer::WaitReady(std::chrono::milliseconds timeout) {
  return PollUntil([&] { return !Running() || Request("GET", "/readyz").status == 200; }, timeout) && Running();
}

std::optional<ClusterInfo> ClusterPeer::Cluster() const {
  HttpResponse r = HttpRequest(http_port_, "GET", "/cluster", "", {}, std::chrono::seconds(2));
  if (r.status != 200) return std::nullopt;
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.IsObject() || !d.HasMember("result")) return std::nullopt;
  const auto& res = d["result"];
  ClusterInfo info;
  info.peer_id = res["peer_id"].GetUint64();
  for (const auto& m : res["peers"].GetObject()) {
    info.peers[std::stoull(m.name.GetString())] = m.value["uri"].GetString();
  }
  const auto& raft = res["raft_info"];
  info.term = raft["term"].GetUint64();
  info.commit = raft["commit"].GetUint64();
  if (raft["leader"].IsUint64()) info.leader = raft["leader"].GetUint64();
  if (raft["role"].IsString()) info.role = raft["role"].GetString();
  info.is_voter = raft["is_voter"].GetBool();
  info.thread_status = res["consensus_thread_status"]["consensus_thread_status"].GetString();
  return info;
}

std::vector<std::unique_ptr<ClusterPeer>> StartCluster(unsigned n, std::map<std::string, std::string> env) {
  std::vector<std::unique_ptr<ClusterPeer>> peers;
  for (unsigned i = 0; i < n; ++i) {
    peers.push_back(std::make_unique<ClusterPeer>(env));
    if (i == 0) {
      peers[0]->Start();
    } else {
      peers[i]->Start(peers[i - 1]->uri());
    }
    if (!peers[i]->WaitReady()) {
      throw std::runtime_error("peer " + std::to_string(i) + " did not become ready: " + peers[i]->Stderr());
    }
  }
  return peers;
}

uint64_t WaitConverged(const std::vector<ClusterPeer*>& peers, size_t n, std::chrono::milliseconds timeout) {
  uint64_t leader = 0;
  bool ok = PollUntil(
      [&] {
        std::optional<uint64_t> seen;
        for (ClusterPeer* p : peers) {
          auto info = p->Cluster();
          if (!info || !info->leader || info->peers.size() != n || !info->is_voter) return false;
          if (seen && *seen != *info->leader) return false;
          seen = info->leader;
        }
        leader = seen.value_or(0);
        return leader != 0;
      },
      timeout);
  return ok ? leader : 0;
}

std::string Metadata(const ClusterPeer& peer, const std::string& key) {
  HttpResponse r = peer.Request("GET", "/cluster/metadata/keys/" + key);
  if (r.status != 200) return "";
  rapidjson::Document d;
  d.Parse(r.body.c_str());
  if (d.HasParseError() || !d.HasMember("result")) return "";
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  d["result"].Accept(w);
  return buf.GetString();
}

std::vector<ClusterPeer*> Ptrs(const std::vector<std::unique_ptr<ClusterPeer>>& peers) {
  std::vector<ClusterPeer*> out;
  for (const auto& p : peers) out.push_back(p.get());
  return out;
}

std::optional<std::string> ReplicaContent(const ClusterPeer& peer, const std::string& collection,
                                          uint32_t shard) {
  std::shared_ptr<::grpc::ChannelCredentials> credentials = ::grpc::InsecureChannelCredentials();
  if (peer.PeerTls()) {
    // Peer TLS: this test speaks as a peer would, with the peer's own certificate.
    auto read = [](const std::string& path) {
      std::ifstream in(path, std::ios::binary);
      return std::string(std::istreambuf_iterator<char>(in), {});
    };
    ::grpc::SslCredentialsOptions options;
    options.pem_root_certs = read(peer.Env("QDRANT__TLS__CA_CERT"));
    options.pem_private_key = read(peer.Env("QDRANT__TLS__KEY"));
    options.pem_cert_chain = read(peer.Env("QDRANT__TLS__CERT"));
    credentials = ::grpc::SslCredentials(options);
  }
  auto stub = qdrantd::p2p::P2pData::NewStub(
      ::grpc::CreateChannel("127.0.0.1:" + std::to_string(peer.p2p_port()), credentials));
  qdrantd::p2p::ReadRequest request;
  request.set_collection(collection);
  request.set_shard(shard);
  request.set_kind(1);  // scroll, from the first id
  request.set_limit(100000000);
  request.set_with_payload(true);
  request.set_all_vectors(true);
  qdrantd::p2p::ReadReply reply;
  ::grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!stub->Read(&context, request, &reply).ok() || reply.code() != 0) return std::nullopt;
  std::string out = reply.records();
  for (uint64_t v : reply.versions()) out += "|" + std::to_string(v);
  return out;
}

}  // namespace qd::test
