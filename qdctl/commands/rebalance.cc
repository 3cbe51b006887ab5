// qdctl rebalance plan|apply|status and qdctl transfers (beyond Qdrant; docs/cluster.md
// "Rebalancing, draining and self-healing", docs/admin-api.md): the plan the answering peer
// computes, starting a rebalance (and waiting for it), and the shard transfers with the
// progress their sources report through consensus, readable on any peer.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "qdctl/commands/commands.h"

namespace qd::qdctl {
namespace {

constexpr std::chrono::milliseconds kPollEvery{500};

Value Optional(const std::optional<uint64_t>& v) { return v ? Value(*v) : Value(nullptr); }

std::string Joined(const std::vector<uint64_t>& ids) {
  std::string out;
  for (uint64_t id : ids) out += (out.empty() ? "" : ",") + std::to_string(id);
  return out;
}

Record StatusRecord(const client::RebalanceInfo& r) {
  return Record{{"state", r.state},
                {"reason", r.reason.empty() ? Value(nullptr) : Value(r.reason)},
                {"moves_done", r.moves_done},
                {"moves_failed", r.moves_failed},
                {"moves_in_flight", r.moves_in_flight},
                {"moves_planned", r.moves_planned},
                {"moves_total", r.moves_total},
                {"eta_seconds", Optional(r.eta_seconds)},
                {"draining", Joined(r.draining)},
                {"stuck", static_cast<uint64_t>(r.stuck.size())}};
}

std::string Bytes(double bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  size_t unit = 0;
  while (bytes >= 1000 && unit + 1 < std::size(units)) {
    bytes /= 1000;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), unit == 0 ? "%.0f %s" : "%.1f %s", bytes, units[unit]);
  return buf;
}

Record TransferRecord(const client::TransferStatus& t, Format format, bool bars = false) {
  // A snapshot's progress is its files' bytes sent; a delta's, its ops; else the points.
  const bool by_ops = t.method == "wal_delta";
  const bool by_bytes = t.method == "snapshot" && t.bytes_total > 0;
  const uint64_t done = by_bytes ? t.bytes_done : by_ops ? t.ops_done : t.points_done;
  const uint64_t total = by_bytes ? t.bytes_total : by_ops ? t.ops_total : t.points_total;
  Record r{{"collection", t.collection},
           {"shard", static_cast<uint64_t>(t.shard_id)},
           {"from", t.from_peer_id},
           {"to", t.to_peer_id},
           {"method", t.method},
           {"sync", t.sync},
           {"reason", t.reason.empty() ? Value(std::string("requested")) : Value(t.reason)}};
  if (format == Format::kJson) {
    r.push_back({"points_done", t.points_done});
    r.push_back({"points_total", t.points_total});
    r.push_back({"ops_done", t.ops_done});
    r.push_back({"ops_total", t.ops_total});
    r.push_back({"bytes_done", t.bytes_done});
    r.push_back({"bytes_total", t.bytes_total});
    r.push_back({"bytes_per_second", t.bytes_per_second});
    r.push_back({"eta_seconds", t.eta_seconds ? Value(*t.eta_seconds) : Value(nullptr)});
    return r;
  }
  std::string progress = "-";
  if (t.started_at_ms != 0) {
    progress = by_bytes ? Bytes(static_cast<double>(done)) + "/" + Bytes(static_cast<double>(total))
                        : std::to_string(done) + "/" + std::to_string(total) +
                              (by_ops ? " ops" : " points");
    if (total > 0) progress += " (" + std::to_string(done * 100 / total) + "%)";
    if (bars) progress = ProgressBar(done, total) + " " + progress;
  }
  r.push_back({"progress", progress});
  r.push_back({"rate", t.started_at_ms ? Value(Bytes(t.bytes_per_second) + "/s") : Value(nullptr)});
  r.push_back({"eta", t.eta_seconds
                          ? Value(std::to_string(static_cast<uint64_t>(*t.eta_seconds + 0.5)) + "s")
                          : Value(nullptr)});
  return r;
}

}  // namespace

void RegisterRebalance(CLI::App& app, Context& context) {
  CLI::App* rebalance = app.add_subcommand("rebalance", "Even out replicas across peers");
  rebalance->require_subcommand(1);
  rebalance->add_subcommand("status", "Whether a rebalance runs, and how far it got")
      ->callback([&context] {
        std::unique_ptr<client::Client> client = context.Connect();
        if (!client) return;
        Result<client::RebalanceInfo> r = client->GetRebalance();
        if (!r.ok()) {
          context.Fail(r.status());
          return;
        }
        context.Print(StatusRecord(*r));
      });
  rebalance->add_subcommand("plan", "The moves the cluster would make now (a dry run)")
      ->callback([&context] {
        std::unique_ptr<client::Client> client = context.Connect();
        if (!client) return;
        Result<client::RebalanceInfo> r = client->GetRebalance();
        if (!r.ok()) {
          context.Fail(r.status());
          return;
        }
        // The server's plan includes the balancing moves whether or not a rebalance runs: a
        // dry run of `rebalance apply`, with the drains and heals under way.
        std::vector<Record> rows;
        for (const client::RebalanceMove& m : r->plan) {
          rows.push_back(Record{{"kind", m.kind},
                                {"collection", m.collection},
                                {"shard", static_cast<uint64_t>(m.shard_id)},
                                {"from", m.from_peer_id},
                                {"to", Optional(m.to_peer_id)},
                                {"reason", m.reason}});
        }
        if (rows.empty() && context.format() == Format::kTable) {
          context.Print(Record{{"moves", static_cast<uint64_t>(0)}, {"state", r->state}});
        } else {
          context.PrintList(rows);
        }
        for (const std::string& why : r->stuck)
          std::fprintf(stderr, "qdctl: stuck: %s\n", why.c_str());
      });
  CLI::App* apply = rebalance->add_subcommand("apply", "Start a rebalance");
  auto wait = std::make_shared<bool>(false);
  apply->add_flag("--wait", *wait, "Print progress until the rebalance is done");
  apply->callback([&context, wait] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    if (Status s = client->StartRebalance(); !s.ok()) {
      context.Fail(s);
      return;
    }
    Result<client::RebalanceInfo> r = client->GetRebalance();
    std::string last;
    while (*wait && r.ok() && r->state == "running") {
      std::string line = "rebalance: " + std::to_string(r->moves_done) + "/" +
                         std::to_string(r->moves_total) + " moves done, " +
                         std::to_string(r->moves_in_flight) + " in flight" +
                         (r->eta_seconds ? ", eta " + std::to_string(*r->eta_seconds) + "s" : "");
      if (line != last) std::fprintf(stderr, "%s\n", line.c_str());
      last = line;
      std::this_thread::sleep_for(kPollEvery);
      r = client->GetRebalance();
    }
    if (!r.ok()) {
      context.Fail(r.status());
      return;
    }
    context.Print(StatusRecord(*r));
  });

  CLI::App* transfers = app.add_subcommand("transfers", "Shard transfers with their progress");
  auto collection = std::make_shared<std::string>();
  transfers->add_option("--collection", *collection, "Only this collection's transfers");
  auto watch = std::make_shared<bool>(false);
  auto until_done = std::make_shared<bool>(false);
  transfers->add_flag("--watch", *watch,
                      "List them again every second: redrawn in place with progress bars on a "
                      "terminal, one list after another otherwise");
  transfers->add_flag("--until-done", *until_done,
                      "With --watch: stop once no transfer is left (exit 0)");
  transfers->callback([&context, collection, watch, until_done] {
    std::unique_ptr<client::Client> client = context.Connect();
    if (!client) return;
    const bool terminal = *watch && context.format() == Format::kTable && ::isatty(STDOUT_FILENO);
    for (;;) {
      Result<std::vector<client::TransferStatus>> list = client->ListTransfers(
          collection->empty() ? std::nullopt : std::optional<std::string>(*collection));
      if (!list.ok()) {
        context.Fail(list.status());
        return;
      }
      std::vector<Record> rows;
      for (const client::TransferStatus& t : *list)
        rows.push_back(TransferRecord(t, context.format(), terminal));
      if (terminal) std::fputs("\033[H\033[J", stdout);  // home, clear to the end
      if (*watch && rows.empty() && context.format() == Format::kTable) {
        std::puts("no shard transfers");
      }
      context.PrintList(rows);
      if (!*watch || (*until_done && list->empty())) return;
      if (!terminal) std::puts("");
      std::fflush(stdout);
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  });
}

}  // namespace qd::qdctl
