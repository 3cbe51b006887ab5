#!/usr/bin/env bash
# Benchmark (issue #17): a shard transfer between 2 local qdrantd peers (cluster mode,
# 127.0.0.1). Not a test: figures only. Loads a clustered set (N x DIM, default 100k x 128) with
# a payload on every point into a one-shard collection, waits for the source's index checkpoint
# (every 60 s) to cover it, then replicates the shard to the other peer with each method and
# prints the time and MB/s (vectors and payloads, float32), and one writer's upsert latency
# (wait=true, p50/p99) while idle and during a transfer by each method.
#   usage: scripts/bench/transfer.sh
#   METHODS="snapshot" scripts/bench/transfer.sh   only these (default: stream_records snapshot)
#   RATE_MB=20 scripts/bench/transfer.sh    with storage.performance.shard_transfer_rate_limit_mb
#   N=20000 scripts/bench/transfer.sh       a smaller set
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100000} QUERIES=${QUERIES:-1000} DIM=${DIM:-128} CLUSTERS=${CLUSTERS:-100} SEED=${SEED:-1}
METRIC=${METRIC:-l2} RATE_MB=${RATE_MB:-} BUILD=${BUILD:-1}
METHODS=${METHODS:-stream_records snapshot} CHECKPOINT_WAIT=${CHECKPOINT_WAIT:-65}
PEER_ENV="QDRANT__STORAGE__PERFORMANCE__SHARD_TRANSFER_RATE_LIMIT_MB=${RATE_MB:-null}"
# shellcheck source=scripts/bench/local_peers.sh
. scripts/bench/local_peers.sh

start_peer a
start_peer b "${p2p[a]}"

echo "== loading $N x $DIM points into one shard through peer a"
"$tools/qd_bench" --transport rest --port "${http[a]}" --data "$data" --metric "$METRIC" \
  --collection t --collection-json '"shard_number":1,"replication_factor":1' --count-points \
  --ef 64 --concurrency 0 --min-seconds 0.2 >/dev/null

python3 - "${http[a]}" "${http[b]}" "$N" "$DIM" "$METHODS" "$CHECKPOINT_WAIT" <<'PY'
import json, sys, time, threading, urllib.request, random
a, b, n, dim = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
methods, checkpoint_wait = sys.argv[5].split(), float(sys.argv[6])
def call(port, method, path, body=None, timeout=600):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"content-type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=timeout).read())["result"]
payload = {"title": "point of the transfer benchmark", "label": 7, "tags": ["a", "b", "c"]}
call(a, "POST", "/collections/t/points/payload?wait=true", {"payload": payload, "filter": {"must": []}})
payload_bytes = len(json.dumps(payload, separators=(",", ":")))
info = call(a, "GET", "/collections/t/cluster")
holder = info["local_shards"] and info["peer_id"] or info["remote_shards"][0]["peer_id"]
peers = {call(p, "GET", "/cluster")["peer_id"]: p for p in (a, b)}
other = [p for p in peers if p != holder][0]
src_port = peers[holder]

def transfer(method):
    t0 = time.time()
    call(a, "POST", "/collections/t/cluster",
         {"replicate_shard": {"shard_id": 0, "from_peer_id": holder, "to_peer_id": other,
                              "method": method}})
    while True:
        c = call(src_port, "GET", "/collections/t/cluster")
        states = [r["state"] for r in c["remote_shards"]] + [r["state"] for r in c["local_shards"]]
        if not c["shard_transfers"] and states and all(s == "Active" for s in states) and len(states) == 2:
            return time.time() - t0
        time.sleep(0.02)

def drop():
    call(a, "POST", "/collections/t/cluster", {"drop_replica": {"shard_id": 0, "peer_id": other}})

def writer(stop, lat):
    i = 0
    while not stop.is_set():
        body = {"points": [{"id": 10_000_000 + i, "vector": [random.random() for _ in range(dim)], "payload": payload}]}
        t = time.time()
        call(a, "PUT", "/collections/t/points?wait=true", body)
        lat.append((time.time() - t) * 1000)
        i += 1

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")

mb = n * (dim * 4 + payload_bytes) / 1e6
# A snapshot carries the source's last index checkpoint; ops after it are re-indexed on arrival.
print(f"== waiting {checkpoint_wait:.0f} s for the source's index checkpoint", flush=True)
time.sleep(checkpoint_wait)
for method in methods:
    took = transfer(method)
    print(f"{method}: {n} points ({mb:.1f} MB of vectors and payloads) in {took:.2f} s = {mb / took:.1f} MB/s", flush=True)
    assert call(peers[other], "POST", "/collections/t/points/count", {"exact": True})["count"] >= n
    drop()
    time.sleep(1)
stop, idle = threading.Event(), []
w = threading.Thread(target=writer, args=(stop, idle)); w.start(); time.sleep(5); stop.set(); w.join()
print(f"one writer's upsert latency (wait=true, ms): idle p50 {pct(idle, .5):.2f} p99 {pct(idle, .99):.2f} ({len(idle)} writes)", flush=True)
for method in methods:
    stop, busy = threading.Event(), []
    w = threading.Thread(target=writer, args=(stop, busy)); w.start()
    took2 = transfer(method); stop.set(); w.join()
    print(f"  during a {method} transfer ({took2:.2f} s): p50 {pct(busy, .5):.2f} p99 {pct(busy, .99):.2f} ({len(busy)} writes)", flush=True)
    drop()
    time.sleep(1)
PY
