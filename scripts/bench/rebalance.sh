#!/usr/bin/env bash
# Benchmark (issue #17): how long a 4th peer joining a 3-peer cluster takes to receive its share
# of the replicas (cluster.rebalance.on_join), on local qdrantd peers (127.0.0.1). Not a test:
# figures only. Loads COLLECTIONS collections (default 3) of 6 shards, replication factor 2, each
# with the clustered set (N x DIM, default 30k x 128, plus a payload), starts peer d, and times
# until GET /cluster says the rebalance is done, then prints the moves, their failures and how
# the replicas ended per peer.
#   usage: scripts/bench/rebalance.sh        N=100000 scripts/bench/rebalance.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-30000} QUERIES=${QUERIES:-100} DIM=${DIM:-128} CLUSTERS=${CLUSTERS:-100} SEED=${SEED:-1}
METRIC=${METRIC:-l2} BUILD=${BUILD:-1} COLLECTIONS=${COLLECTIONS:-3}

# shellcheck source=scripts/bench/local_peers.sh
. scripts/bench/local_peers.sh
start_peer a
start_peer b "${p2p[a]}"
start_peer c "${p2p[a]}"
for i in $(seq 0 $((COLLECTIONS - 1))); do
  "$tools/qd_bench" --transport rest --port "${http[a]}" --data "$data" --metric "$METRIC" \
    --collection "c$i" --collection-json '"shard_number":6,"replication_factor":2' --count-points \
    --ef 64 --concurrency 0 --min-seconds 0.2 >/dev/null
done
started=$(date +%s.%N)
start_peer d "${p2p[a]}"
python3 - "${http[a]}" "$started" "$N" "$COLLECTIONS" <<'PY'
import json, sys, time, urllib.request
a, started, n, collections = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def get(path):
    return json.loads(urllib.request.urlopen(f"http://127.0.0.1:{a}{path}", timeout=30).read())["result"]
while True:
    r = get("/cluster")["rebalance"]
    if r["state"] == "done" and "joined" in (r["reason"] or ""):
        break
    if time.time() - started > 1800:
        sys.exit(f"the rebalance did not end within 1800 s: {r}")
    time.sleep(0.05)
took = time.time() - started
plan = get("/cluster/rebalance")
per_peer = ", ".join(f"{p}: {c['now']}" for p, c in sorted(plan["replicas_per_peer"].items()))
print(f"4th peer joined {collections} collections x 6 shards (RF 2) of {n} points each: "
      f"rebalance done {took:.1f} s after the start of peer d (ready included), moves done "
      f"{r['moves_done']}, failed {r['moves_failed']}; replicas per peer {per_peer}; "
      f"{r['moves_done'] * n / 6 / took:.0f} points moved per second")
PY
