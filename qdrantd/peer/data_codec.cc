#include "qdrantd/peer/data_codec.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "p2p.pb.h"
#include "qdrantd/index/json_path.h"

namespace qd::peer {
namespace {

namespace pb = ::qdrantd::p2p;
using segment::Operation;
using segment::OpKind;

Status Corrupt(const std::string& what, const Status& cause) {
  return Status::InvalidArgument("P2P request: " + what + ": " + cause.message());
}

void CopyAll(const rapidjson::Value& in, rapidjson::Value& out,
             rapidjson::Document::AllocatorType& alloc) {
  out.CopyFrom(in, alloc);
}

std::string ToText(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string EncodeIds(const std::vector<segment::PointId>& ids) {
  Operation op;
  op.kind = OpKind::kDeletePoints;
  op.ids = ids;
  return segment::Encode(op);
}

void SetOrderValue(const index::OrderValue& v, pb::OrderValue& out) {
  out.set_is_int(v.is_int);
  out.set_int_value(v.integer);
  out.set_float_value(v.real);
}

index::OrderValue GetOrderValue(const pb::OrderValue& v) {
  return v.is_int() ? index::OrderValue::Int(v.int_value())
                    : index::OrderValue::Float(v.float_value());
}

}  // namespace

Status StatusFromWire(int32_t code, const std::string& message) {
  if (code == 0) return Status::Ok();
  if (code < 0 || code > static_cast<int32_t>(StatusCode::kUnimplemented)) {
    return Status::Internal("a peer answered with unknown status code " + std::to_string(code) +
                            ": " + message);
  }
  return Status(static_cast<StatusCode>(code), message);
}

void EncodeUpdate(const collection::UpdateRequest& request, pb::ForwardRequest& out) {
  out.set_op(segment::Encode(request.op));
  out.set_by_filter(request.by_filter);
  out.set_filter_json(request.filter.json);
  out.set_update_mode(static_cast<uint32_t>(request.update_mode));
  out.set_update_filter_json(request.update_filter.json);
  out.set_ordering(static_cast<uint32_t>(request.ordering));
}

Result<collection::UpdateRequest> DecodeUpdate(const pb::ForwardRequest& in) {
  collection::UpdateRequest out;
  Result<Operation> op = segment::Decode(in.op());
  if (!op.ok()) return Corrupt("op", op.status());
  out.op = std::move(*op);
  out.by_filter = in.by_filter();
  Result<segment::PointFilter> filter = segment::PointFilter::ParseText(in.filter_json(), "filter");
  if (!filter.ok()) return Corrupt("filter", filter.status());
  out.filter = std::move(*filter);
  if (in.update_mode() > 2) return Status::InvalidArgument("P2P request: unknown update_mode");
  out.update_mode = static_cast<collection::UpdateMode>(in.update_mode());
  Result<segment::PointFilter> update_filter =
      segment::PointFilter::ParseText(in.update_filter_json(), "update_filter");
  if (!update_filter.ok()) return Corrupt("update_filter", update_filter.status());
  out.update_filter = std::move(*update_filter);
  if (in.ordering() > 2) return Status::InvalidArgument("P2P request: unknown ordering");
  out.ordering = static_cast<collection::WriteOrdering>(in.ordering());
  return out;
}

void EncodeRead(const collection::ShardRead& read, pb::ReadRequest& out) {
  out.set_kind(static_cast<uint32_t>(read.kind));
  out.set_filter_json(read.filter.json);
  out.set_with_payload(read.projection.payload != nullptr);
  out.set_all_vectors(read.projection.all_vectors);
  for (const std::string& name : read.projection.vector_names) out.add_vector_names(name);
  switch (read.kind) {
    case collection::ShardRead::Kind::kSearch: {
      Operation q;
      q.kind = OpKind::kUpsert;
      segment::PointStruct p;
      p.vectors.emplace_back(read.search.vector_name, read.search.query);
      p.payload_json.clear();
      q.points.push_back(std::move(p));
      out.set_query(segment::Encode(q));
      out.set_limit(read.search.limit);
      out.set_offset(read.search.offset);
      out.set_has_score_threshold(read.search.score_threshold.has_value());
      out.set_score_threshold(read.search.score_threshold.value_or(0));
      out.set_ef(read.search.ef);
      out.set_exact(read.search.exact);
      break;
    }
    case collection::ShardRead::Kind::kScroll:
      out.set_limit(read.limit);
      out.set_has_from(read.from.has_value());
      if (read.from) out.set_ids(EncodeIds({*read.from}));
      break;
    case collection::ShardRead::Kind::kRetrieve:
      out.set_ids(EncodeIds(read.ids));
      break;
    case collection::ShardRead::Kind::kScrollOrdered:
      out.set_limit(read.limit);
      if (read.order_by) {
        out.set_order_key(read.order_by->key);
        out.set_descending(read.order_by->descending);
        if (read.order_by->start_from)
          SetOrderValue(*read.order_by->start_from, *out.mutable_start_from());
      }
      break;
    case collection::ShardRead::Kind::kCount:
      break;
  }
}

Result<collection::ShardRead> DecodeRead(const pb::ReadRequest& in) {
  collection::ShardRead out;
  if (in.kind() > 4) return Status::InvalidArgument("P2P request: unknown read kind");
  out.kind = static_cast<collection::ShardRead::Kind>(in.kind());
  Result<segment::PointFilter> filter = segment::PointFilter::ParseText(in.filter_json(), "filter");
  if (!filter.ok()) return Corrupt("filter", filter.status());
  out.filter = std::move(*filter);
  if (in.with_payload()) out.projection.payload = CopyAll;
  out.projection.all_vectors = in.all_vectors();
  for (const std::string& name : in.vector_names()) out.projection.vector_names.push_back(name);
  auto ids = [&]() -> Result<std::vector<segment::PointId>> {
    if (in.ids().empty()) return std::vector<segment::PointId>{};
    Result<Operation> op = segment::Decode(in.ids());
    if (!op.ok()) return Corrupt("ids", op.status());
    return std::move(op->ids);
  };
  switch (out.kind) {
    case collection::ShardRead::Kind::kSearch: {
      Result<Operation> q = segment::Decode(in.query());
      if (!q.ok()) return Corrupt("query", q.status());
      if (q->points.size() != 1 || q->points[0].vectors.size() != 1) {
        return Status::InvalidArgument("P2P request: a search carries one query vector");
      }
      out.search.vector_name = q->points[0].vectors[0].first;
      out.search.query = std::move(q->points[0].vectors[0].second);
      out.search.limit = in.limit();
      out.search.offset = in.offset();
      if (in.has_score_threshold()) out.search.score_threshold = in.score_threshold();
      out.search.ef = in.ef();
      out.search.exact = in.exact();
      break;
    }
    case collection::ShardRead::Kind::kScroll: {
      out.limit = in.limit();
      if (in.has_from()) {
        Result<std::vector<segment::PointId>> from = ids();
        if (!from.ok()) return from.status();
        if (from->size() != 1)
          return Status::InvalidArgument("P2P request: a scroll starts at one id");
        out.from = (*from)[0];
      }
      break;
    }
    case collection::ShardRead::Kind::kRetrieve: {
      Result<std::vector<segment::PointId>> list = ids();
      if (!list.ok()) return list.status();
      out.ids = std::move(*list);
      break;
    }
    case collection::ShardRead::Kind::kScrollOrdered: {
      out.limit = in.limit();
      segment::OrderBy order_by;
      order_by.key = in.order_key();
      Result<index::JsonPath> path = index::ParseJsonPath(in.order_key());
      if (!path.ok()) return Corrupt("order_by", path.status());
      order_by.path = std::move(*path);
      order_by.descending = in.descending();
      if (in.has_start_from()) order_by.start_from = GetOrderValue(in.start_from());
      out.order_by = std::move(order_by);
      break;
    }
    case collection::ShardRead::Kind::kCount:
      break;
  }
  return out;
}

void EncodeReadResult(const collection::ShardReadResult& result, pb::ReadReply& out) {
  out.set_count(result.count);
  Operation records;
  records.kind = OpKind::kUpsert;
  records.points.reserve(result.records.points.size());
  for (const segment::PointRecord& r : result.records.points) {
    segment::PointStruct p;
    p.id = r.id;
    if (r.has_vectors) p.vectors = r.vectors;
    p.payload_json = r.has_payload ? ToText(r.payload) : std::string();
    records.points.push_back(std::move(p));
    out.add_versions(r.version);
    out.add_scores(r.score);
    out.add_distances(r.distance);
    out.add_has_payload(r.has_payload);
    out.add_has_vectors(r.has_vectors);
    if (r.order_value) SetOrderValue(*r.order_value, *out.add_order_values());
  }
  out.set_records(segment::Encode(records));
}

Result<collection::ShardReadResult> DecodeReadResult(const pb::ReadReply& in,
                                                     const segment::Projection& projection) {
  collection::ShardReadResult out;
  out.count = in.count();
  if (in.records().empty()) return out;
  Result<Operation> records = segment::Decode(in.records());
  if (!records.ok()) return Corrupt("records", records.status());
  const int n = static_cast<int>(records->points.size());
  if (in.versions_size() != n || in.scores_size() != n || in.distances_size() != n ||
      in.has_payload_size() != n || in.has_vectors_size() != n ||
      (in.order_values_size() != 0 && in.order_values_size() != n)) {
    return Status::Internal("a peer answered a read with inconsistent record fields");
  }
  out.records.points.reserve(n);
  for (int i = 0; i < n; ++i) {
    segment::PointStruct& p = records->points[i];
    segment::PointRecord r;
    r.id = p.id;
    r.version = in.versions(i);
    r.score = in.scores(i);
    r.distance = in.distances(i);
    r.has_vectors = in.has_vectors(i);
    if (r.has_vectors) r.vectors = std::move(p.vectors);
    if (in.has_payload(i) && projection.payload) {
      rapidjson::Document whole(&out.records.Allocator());
      whole.Parse(p.payload_json.c_str(), p.payload_json.size());
      if (whole.HasParseError())
        return Status::Internal("a peer answered a read with a payload that is not JSON");
      projection.payload(whole, r.payload, out.records.Allocator());
      r.has_payload = true;
    }
    if (in.order_values_size() != 0) r.order_value = GetOrderValue(in.order_values(i));
    out.records.points.push_back(std::move(r));
  }
  return out;
}

}  // namespace qd::peer
