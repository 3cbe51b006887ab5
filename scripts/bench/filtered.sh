#!/usr/bin/env bash
# Benchmark (issue #22): filtered search on a real set over REST, the graph walk and the exact
# scan timed in the same run, beside the planner's pick, per filter: none, `label` = a random
# class / the query's own class (10%, correlated with the vectors), `bucket` (id % 100) < 0
# (no point: what a search costs besides its path), 1, 10, 30, 50 (uncorrelated), `label` not
# in 0..7 (20%). Not a test: figures only.
#   usage: scripts/bench/filtered.sh                   Fashion-MNIST, 300 queries, hnsw_ef 128
#   PAYLOAD_MS="0 16" scripts/bench/filtered.sh        one daemon per payload_m (0: no payload
#                                                      links), for links vs none in one run
#   SET=glove6b-100-angular METRIC=cos scripts/bench/filtered.sh   (labels: id % 10)
#   FILTERS=bucket PASSES=5 scripts/bench/filtered.sh   only filters whose name has "bucket"
# The set comes from ../shared/data/get-fashion-mnist.sh (DATA_ROOT, default
# ~/.cache/qdrantd-data). Per payload_m it prints the load (upsert with payloads, index build
# included) time, the daemon's RSS after it, and the table of qd_filtered_bench
# (tests/bench/filtered_main.cc says what each column is).
set -euo pipefail
cd "$(dirname "$0")/../.."

SET=${SET:-fashion-mnist-784-euclidean}
DATA_ROOT=${DATA_ROOT:-${DATA_DIR:-$HOME/.cache/qdrantd-data}}
METRIC=${METRIC:-l2}
QUERIES=${QUERIES:-300} EF=${EF:-128} PASSES=${PASSES:-3} FILTERS=${FILTERS:-}
M=${M:-16} EF_CONSTRUCT=${EF_CONSTRUCT:-100}
PAYLOAD_MS=${PAYLOAD_MS:-default}  # "default": not sent (payload_m = m); 0: no payload links
BUILD=${BUILD:-1}                  # 0: use the binaries already built
BUILD_DIR=${BUILD_DIR:-build/release}
bin=${QDRANTD:-$BUILD_DIR/qdrantd/qdrantd}
tools=${TOOLS:-$BUILD_DIR/tests/bench}

if [ "$BUILD" = 1 ]; then
  generator=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja" || true)
  cmake -S . -B "$BUILD_DIR" $generator -DCMAKE_BUILD_TYPE=Release -DQD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target qdrantd qd_filtered_bench >/dev/null
fi
[ -x "$bin" ] && [ -x "$tools/qd_filtered_bench" ] || { echo "build first: make build" >&2; exit 1; }
data=$DATA_ROOT/$SET
[ -s "$data/base.fvecs" ] || { echo "no set $SET in $DATA_ROOT (../shared/data/get-*.sh)" >&2; exit 1; }

dir=$(mktemp -d)
pid=
stop_daemon() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  pid=
}
cleanup() { stop_daemon; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_daemon() {
  rm -rf "$dir/storage"
  http_port=$(free_port) grpc_port=$(free_port)
  QDRANT__STORAGE__STORAGE_PATH=$dir/storage QDRANT__SERVICE__HOST=127.0.0.1 \
    QDRANT__SERVICE__HTTP_PORT=$http_port QDRANT__SERVICE__GRPC_PORT=$grpc_port \
    QDRANT__LOG_LEVEL=warn "$bin" --stacktrace >"$dir/qdrantd.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { cat "$dir/qdrantd.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "qdrantd did not answer" >&2
  exit 1
}
rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

echo "== $SET: $QUERIES queries, hnsw_ef $EF, m $M, ef_construct $EF_CONSTRUCT, $(nproc) cores, $(date -u +%FT%TZ)"
for payload_m in $PAYLOAD_MS; do
  start_daemon
  args=()
  [ "$payload_m" = default ] || args+=(--payload-m "$payload_m")
  echo
  echo "== payload_m $payload_m (qdrantd $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
  "$tools/qd_filtered_bench" --port "$http_port" --data "$data" --metric "$METRIC" --m "$M" \
    --ef-construct "$EF_CONSTRUCT" --queries "$QUERIES" --ef "$EF" --passes "$PASSES" \
    --filters "$FILTERS" "${args[@]}" \
    || { echo "qd_filtered_bench failed; the daemon's log:" >&2; tail -20 "$dir/qdrantd.log" >&2; exit 1; }
  echo "daemon RSS after the run: $(rss_mib "$pid") MiB"
  stop_daemon
done
