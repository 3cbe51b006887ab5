#!/usr/bin/env bash
# Benchmark (issue #16): the data plane on 3 local qdrantd peers (cluster mode, 127.0.0.1).
# Not a test: figures only. For each replication setting it loads a clustered set through peer
# a (upsert throughput, one request's p50/p99) and searches it through peer a; for the last
# setting (RF=3 by default: peer a holds every shard) it also searches through a fourth peer that
# holds no replica (every shard one hop away) and prints the QPS ratio and the single-query p50
# overhead of the hop.
#   usage: scripts/bench/cluster.sh
#   N=20000 scripts/bench/cluster.sh           a smaller set
#   CONFIGS="1:1 3:2" scripts/bench/cluster.sh  replication_factor:write_consistency_factor pairs
#   PEER_TLS=1 scripts/bench/cluster.sh         with mutual TLS between the peers (issue #19)
# Single node speed is vectors.sh's figure (make bench), unchanged by this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-100000} QUERIES=${QUERIES:-1000} DIM=${DIM:-128} CLUSTERS=${CLUSTERS:-100} SEED=${SEED:-1}
METRIC=${METRIC:-l2} M=${M:-16} EF_CONSTRUCT=${EF_CONSTRUCT:-100} EF=${EF:-64}
SHARDS=${SHARDS:-3} CONFIGS=${CONFIGS:-"1:1 2:1 3:2"}
UPSERT_BATCH=${UPSERT_BATCH:-256} UPSERT_CONNECTIONS=${UPSERT_CONNECTIONS:-2}
BATCH=${BATCH:-64} BATCH_CLIENTS=${BATCH_CLIENTS:-2} MIN_SECONDS=${MIN_SECONDS:-2}
BUILD=${BUILD:-1}
# shellcheck source=scripts/bench/local_peers.sh
. scripts/bench/local_peers.sh

start_peer a
start_peer b "${p2p[a]}"
start_peer c "${p2p[a]}"
for _ in $(seq 300); do
  n=$(curl -sf "http://127.0.0.1:${http[a]}/cluster" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["result"]["peers"]))' || echo 0)
  [ "$n" = 3 ] && break
  sleep 0.1
done

results=build/bench-results/cluster-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results"
bench() {  # bench PEER JSON [qd_bench options...]
  local peer=$1 json=$2
  shift 2
  "$tools/qd_bench" --transport rest --port "${http[$peer]}" --data "$data" --metric "$METRIC" --m "$M" \
    --ef-construct "$EF_CONSTRUCT" --ef "$EF" --upsert-batch "$UPSERT_BATCH" \
    --upsert-connections "$UPSERT_CONNECTIONS" --batch-size "$BATCH" --batch-clients "$BATCH_CLIENTS" \
    --concurrency 1 --min-seconds "$MIN_SECONDS" --count-points --json "$results/$json" "$@"
}

for config in $CONFIGS; do
  rf=${config%%:*} wcf=${config##*:}
  echo "== RF=$rf WCF=$wcf, $SHARDS shards on 3 peers: load and search through peer a"
  bench a "rf$rf-wcf$wcf.json" --collection "rf$rf" \
    --collection-json "\"shard_number\":$SHARDS,\"replication_factor\":$rf,\"write_consistency_factor\":$wcf"
  echo
done

# A fourth peer that holds no replica: every shard it reads is on another peer.
start_peer d "${p2p[a]}"
last=${CONFIGS##* }
rf=${last%%:*} wcf=${last##*:}
echo "== RF=$rf: search through peer d, which holds no replica"
bench d "hop.json" --collection "rf$rf" --skip-upsert
echo

python3 - "$results" "$CONFIGS" <<'PY'
import json, sys
results, configs = sys.argv[1], sys.argv[2].split()
load = lambda name: json.load(open(f"{results}/{name}"))
print(f"== data plane on 3 local peers (JSON in {results})")
print(f'{"config":>12} {"upsert pts/s":>12} {"upsert p50 ms":>13} {"p99 ms":>8} {"batch QPS":>10} {"1-query p50 ms":>14}')
p50 = {}
for c in configs:
    rf, wcf = c.split(":")
    r = load(f"rf{rf}-wcf{wcf}.json")
    u, s = r["upsert"], r["search"][0]
    p50[c] = u["p50_ms"]
    print(f'{"RF=" + rf + "/WCF=" + wcf:>12} {u["points_per_second"]:>12.0f} {u["p50_ms"]:>13.2f} {u["p99_ms"]:>8.2f} '
          f'{s["batch"]["qps"]:>10.0f} {s["single"][0]["result"]["p50_ms"]:>14.3f}')
if "1:1" in p50 and "3:2" in p50:
    ratio = p50["3:2"] / p50["1:1"]
    print(f'upsert p50 RF=3/WCF=2 over RF=1: {ratio:.2f} (target <= 2.0) {"ok" if ratio <= 2 else "MISS"}')
last = configs[-1].split(":")
near, hop = load(f"rf{last[0]}-wcf{last[1]}.json")["search"][0], load("hop.json")["search"][0]
qps = hop["batch"]["qps"] / near["batch"]["qps"]
overhead = hop["single"][0]["result"]["p50_ms"] - near["single"][0]["result"]["p50_ms"]
print(f'batched search through a peer without replicas / through peer a: {qps:.2f} (target >= 0.8) '
      f'{"ok" if qps >= 0.8 else "MISS"}')
print(f'single-query p50 overhead of the hop: {overhead:.3f} ms (target <= 0.3) {"ok" if overhead <= 0.3 else "MISS"}')
PY
