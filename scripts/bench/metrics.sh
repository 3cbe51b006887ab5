#!/usr/bin/env bash
# Benchmark (issue #20): what /metrics costs. Not a test: figures only.
#  1. REST search QPS of a qdrantd that counts requests (WITH, default build/test) and one built
#     with -DQD_REQUEST_METRICS=OFF (WITHOUT, default build/nometrics), alternated ROUNDS times
#     with wrk on one small collection (the cheapest searches, where counting weighs most);
#     prints each pair's ratio and the median.
#  2. GET /metrics with COLLECTIONS collections (and every REST route of them answered once):
#     the median and the slowest of SCRAPES scrapes, and the body's size.
#   usage: scripts/bench/metrics.sh   (ROUNDS=3 SECONDS_EACH=10 CONNECTIONS=8 COLLECTIONS=100)
set -euo pipefail
cd "$(dirname "$0")/../.."
WITH=${WITH:-build/test/qdrantd/qdrantd}
WITHOUT=${WITHOUT:-build/nometrics/qdrantd/qdrantd}
ROUNDS=${ROUNDS:-3} SECONDS_EACH=${SECONDS_EACH:-10} CONNECTIONS=${CONNECTIONS:-8}
COLLECTIONS=${COLLECTIONS:-100} SCRAPES=${SCRAPES:-50}
for bin in "$WITH" "$WITHOUT"; do
  [ -x "$bin" ] || { echo "no $bin: build it first (see the header)" >&2; exit 1; }
done

dir=$(mktemp -d)
pid=
stop_daemon() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=; fi
}
trap 'stop_daemon; rm -rf "$dir"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port) grpc_port=$(free_port)
url=http://127.0.0.1:$port

start_daemon() {  # start_daemon BINARY
  rm -rf "$dir/storage"
  QDRANT__STORAGE__STORAGE_PATH=$dir/storage QDRANT__SERVICE__HOST=127.0.0.1 \
    QDRANT__SERVICE__HTTP_PORT=$port QDRANT__SERVICE__GRPC_PORT=$grpc_port QDRANT__LOG_LEVEL=warn \
    "$1" >"$dir/qdrantd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -sf "$url/healthz" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$dir/qdrantd.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "qdrantd did not answer" >&2; exit 1
}

put() { curl -sf -X PUT "$url$1" -H 'Content-Type: application/json' -d "$2" >/dev/null; }
points() {  # points N DIM: an upsert body of N random points
  python3 -c "import json,random,sys; random.seed(1); n,d=int(sys.argv[1]),int(sys.argv[2]); print(json.dumps({'points':[{'id':i,'vector':[random.random() for _ in range(d)]} for i in range(n)]}))" "$1" "$2"
}
points 1000 32 >"$dir/points.json"
query=$(python3 -c "import json,random; random.seed(2); print(json.dumps({'vector':[random.random() for _ in range(32)],'limit':10}))")
cat >"$dir/search.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$query'
LUA

qps() {  # qps BINARY -> requests per second of searches
  start_daemon "$1"
  put /collections/bench '{"vectors":{"size":32,"distance":"Cosine"}}'
  curl -sf -X PUT "$url/collections/bench/points?wait=true" -H 'Content-Type: application/json' \
    --data-binary @"$dir/points.json" >/dev/null
  wrk -t1 -c"$CONNECTIONS" -d1s -s "$dir/search.lua" "$url/collections/bench/points/search" >/dev/null
  wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_EACH}s" -s "$dir/search.lua" "$url/collections/bench/points/search" |
    awk '/^Requests\/sec/ {print $2}'
  stop_daemon
}

echo "REST search (1,000 points, dim 32, limit 10), wrk -t1 -c$CONNECTIONS, ${SECONDS_EACH} s each:"
ratios=()
for round in $(seq "$ROUNDS"); do
  with=$(qps "$WITH") without=$(qps "$WITHOUT")
  ratio=$(awk -v a="$with" -v b="$without" 'BEGIN {printf "%.3f", a / b}')
  ratios+=("$ratio")
  echo "  round $round: with counters $with req/s, without $without req/s, ratio $ratio"
done
echo "  median ratio: $(printf '%s\n' "${ratios[@]}" | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}')"

start_daemon "$WITH"
for i in $(seq "$COLLECTIONS"); do
  put "/collections/c$i" '{"vectors":{"size":4,"distance":"Dot"}}'
  put "/collections/c$i/points?wait=true" '{"points":[{"id":1,"vector":[1,0,0,0]}]}'
  curl -sf "$url/collections/c$i" >/dev/null
  curl -s "$url/collections/c$i/points/2" >/dev/null  # a 404
done
times=()
for _ in $(seq "$SCRAPES"); do
  times+=("$(curl -sf -o "$dir/metrics.txt" -w '%{time_total}' "$url/metrics")")
done
echo "GET /metrics with $COLLECTIONS collections: $(wc -c <"$dir/metrics.txt") bytes, $(grep -vc '^#' "$dir/metrics.txt") samples;" \
  "median $(printf '%s\n' "${times[@]}" | sort -n | awk '{v[NR]=$1} END {printf "%.2f ms", v[int((NR+1)/2)] * 1000}')," \
  "slowest $(printf '%s\n' "${times[@]}" | sort -n | tail -1 | awk '{printf "%.2f ms", $1 * 1000}') over $SCRAPES scrapes"
