#include "qdrantd/peer/channel.h"

#include <grpcpp/grpcpp.h>

#include "libshared/uri.h"

namespace qd::peer {

std::shared_ptr<::grpc::Channel> NewPeerChannel(const std::string& uri,
                                                const std::string& purpose) {
  auto parsed = ParseUri(uri, 6335);
  std::string target = parsed.ok() ? parsed->HostPort() : uri;
  ::grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(256 << 20);
  args.SetMaxSendMessageSize(256 << 20);
  args.SetString("qdrantd.channel", purpose);
  return ::grpc::CreateCustomChannel(target, ::grpc::InsecureChannelCredentials(), args);
}

}  // namespace qd::peer
