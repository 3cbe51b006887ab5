// The gRPC channel to a peer's P2P port, as PeerPool (Raft) and DataClient (points) open it:
// quick reconnects (failover is measured in hundreds of ms), 256 MiB messages. `purpose` keeps
// the two users' connections apart (gRPC would otherwise share one subchannel).
// Only peer/ includes this. Thread: any.
#pragma once

#include <memory>
#include <string>

namespace grpc {
class Channel;
}

namespace qd::peer {

// `uri` is the peer's URI as consensus knows it (http://host:port).
std::shared_ptr<::grpc::Channel> NewPeerChannel(const std::string& uri, const std::string& purpose);

}  // namespace qd::peer
