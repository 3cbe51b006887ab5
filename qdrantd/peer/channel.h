// The gRPC channel to a peer's P2P port, as PeerPool (Raft) and DataClient (points) open it:
// quick reconnects (failover is measured in hundreds of ms), 256 MiB messages. `purpose` keeps
// the two users' connections apart (gRPC would otherwise share one subchannel).
//
// Peer TLS (cluster.p2p.enable_tls, issue #19): once UsePeerTls ran, every channel is mutual
// TLS: this node presents tls.cert (with tls.key) and accepts only a peer whose certificate
// tls.ca_cert signed and names the host it dialled; PeerServerCredentials gives the P2P server
// the same, requiring and verifying the client's certificate. Nothing then goes in plaintext,
// and a peer without TLS or with another CA exchanges nothing (its handshake fails; PeerPool
// logs the reason once per peer). The files are read once, at start: rotating them takes a
// restart of each node (the public listeners re-read theirs, tls.cert_ttl).
// Only peer/ and the daemon include this. Thread: UsePeerTls before any channel; then any.
#pragma once

#include <memory>
#include <string>

#include "libshared/status.h"

namespace grpc {
class Channel;
class ServerCredentials;
}  // namespace grpc

namespace qd::peer {

// The PEM contents of tls.cert, tls.key and tls.ca_cert.
struct PeerTls {
  std::string cert;
  std::string key;
  std::string ca;
};
// Reads the three files. Errors: kInvalidArgument naming the setting and file that cannot be
// read or holds no PEM.
Result<PeerTls> LoadPeerTls(const std::string& cert_path, const std::string& key_path,
                            const std::string& ca_path);
// From now on, channels are mutual TLS with these (once, at start, before any channel).
void UsePeerTls(PeerTls tls);
bool PeerTlsEnabled();
// The P2P server's credentials: mutual TLS with UsePeerTls's files, else insecure.
std::shared_ptr<::grpc::ServerCredentials> PeerServerCredentials();

// `uri` is the peer's URI as consensus knows it (http://host:port, https:// with peer TLS).
std::shared_ptr<::grpc::Channel> NewPeerChannel(const std::string& uri, const std::string& purpose);

}  // namespace qd::peer
