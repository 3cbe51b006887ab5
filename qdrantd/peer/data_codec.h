// The P2pData service's messages (proto/p2p.proto) to and from the collection layer's request
// types (collection/peer_link.h): one codec for both ends, so they cannot drift. Formats are
// described in p2p.proto. Only peer/ and api/p2p include this. Thread: any (pure functions).
#pragma once

#include <string>

#include "libshared/status.h"
#include "qdrantd/collection/peer_link.h"

namespace qdrantd::p2p {
class ForwardRequest;
class ReadRequest;
class ReadReply;
}  // namespace qdrantd::p2p

namespace qd::peer {

// Application status on the wire: StatusCode's numeric value (0 = ok), with a range check.
Status StatusFromWire(int32_t code, const std::string& message);

void EncodeUpdate(const collection::UpdateRequest& request, qdrantd::p2p::ForwardRequest& out);
// Errors: kInvalidArgument for an op or filter that does not decode.
Result<collection::UpdateRequest> DecodeUpdate(const qdrantd::p2p::ForwardRequest& in);

void EncodeRead(const collection::ShardRead& read, qdrantd::p2p::ReadRequest& out);
// The decoded read returns whole payloads (the coordinator projects them).
Result<collection::ShardRead> DecodeRead(const qdrantd::p2p::ReadRequest& in);

void EncodeReadResult(const collection::ShardReadResult& result, qdrantd::p2p::ReadReply& out);
// Payloads are parsed and projected by `projection` (the coordinator's).
Result<collection::ShardReadResult> DecodeReadResult(const qdrantd::p2p::ReadReply& in,
                                                     const segment::Projection& projection);

}  // namespace qd::peer
