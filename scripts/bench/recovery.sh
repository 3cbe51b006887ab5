#!/usr/bin/env bash
# Benchmark (issue #17): how long a peer killed and restarted takes to get its replica back when
# it missed 1% of the writes, by wal_delta (only the missed ops) and by stream_records (every
# point), on 3 local qdrantd peers (cluster mode, 127.0.0.1). Not a test: figures only.
# Loads a clustered set (N x DIM, default 100k x 128, plus a payload) into a one-shard collection
# replicated on all 3 peers, kills -9 peer c, upserts N/100 points (in batches of 10) through
# peer a, restarts c and times until every replica is Active again and c counts every point.
# Runs twice: storage.shard_transfer_method auto (wal_delta for a returning replica) and
# stream_records.
#   usage: scripts/bench/recovery.sh        N=20000 scripts/bench/recovery.sh  (a smaller set)
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100000} QUERIES=${QUERIES:-1000} DIM=${DIM:-128} CLUSTERS=${CLUSTERS:-100} SEED=${SEED:-1}
METRIC=${METRIC:-l2} BUILD=${BUILD:-1}

run() {  # run METHOD: one round in a fresh cluster
  local method=$1
  PEER_ENV="QDRANT__STORAGE__SHARD_TRANSFER_METHOD=$method"
  # shellcheck source=scripts/bench/local_peers.sh
  . scripts/bench/local_peers.sh
  start_peer a
  start_peer b "${p2p[a]}"
  start_peer c "${p2p[a]}"
  "$tools/qd_bench" --transport rest --port "${http[a]}" --data "$data" --metric "$METRIC" \
    --collection t --collection-json '"shard_number":1,"replication_factor":3' --count-points \
    --ef 64 --concurrency 0 --min-seconds 0.2 >/dev/null
  kill -9 "${pids[2]}"
  wait "${pids[2]}" 2>/dev/null || true
  python3 - "${http[a]}" "$N" "$DIM" <<'PY'
import json, random, sys, urllib.request
a, n, dim = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
missed = n // 100
for first in range(0, missed, 10):
    body = {"points": [{"id": 50_000_000 + first + i, "vector": [random.random() for _ in range(dim)],
                        "payload": {"late": True}} for i in range(10)]}
    req = urllib.request.Request(f"http://127.0.0.1:{a}/collections/t/points?wait=true", method="PUT",
                                 data=json.dumps(body).encode(), headers={"content-type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()
PY
  local started
  started=$(date +%s.%N)
  (cd "$dir/c" && exec env QDRANT__CLUSTER__ENABLED=true QDRANT__SERVICE__HOST=127.0.0.1 \
    QDRANT__SERVICE__HTTP_PORT="${http[c]}" QDRANT__SERVICE__GRPC_PORT="${grpc[c]}" \
    QDRANT__CLUSTER__P2P__PORT="${p2p[c]}" QDRANT__LOG_LEVEL=info "$PEER_ENV" \
    "$root/$bin" --uri "http://127.0.0.1:${p2p[c]}" >"$dir/c2.log" 2>&1) &
  pids+=($!)
  python3 - "${http[a]}" "${http[c]}" "$N" "$method" "$started" <<'PY'
import json, sys, time, urllib.request
a, c, n, method, started = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
def call(port, m, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=m,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())["result"]
expected = n + n // 100
seen_methods = set()
while True:
    try:
        info = call(a, "GET", "/collections/t/cluster")
        seen_methods.update(t["method"] for t in info["shard_transfers"])
        states = [r["state"] for r in info["local_shards"] + info["remote_shards"]]
        if len(states) == 3 and all(s == "Active" for s in states) and not info["shard_transfers"]:
            if call(c, "POST", "/collections/t/points/count", {"exact": True})["count"] == expected:
                break
    except OSError:
        pass
    if time.time() - started > 600:
        sys.exit("the replica did not come back within 600 s")
    time.sleep(0.02)
took = time.time() - started
print(f"shard_transfer_method {method}: {n // 100} points missed ({n // 1000} ops of 10), replica "
      f"Active with {expected} points {took:.2f} s after the restart (transfers seen: "
      f"{', '.join(sorted(seen_methods)) or 'none caught in progress'})")
PY
  grep -ho "wal_delta transfer of shard.*\|falls back from wal_delta.*" "$dir"/*.log | head -2 || true
  cleanup
  trap - EXIT
}

run null
BUILD=0 run stream_records
