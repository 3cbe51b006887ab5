#!/usr/bin/env bash
# Benchmark (issue #21): a hybrid query (dense + sparse prefetch fused by rrf) against the dense
# query alone, over REST on one Release daemon, one client, in one run. Not a test: figures only.
#   usage: scripts/bench/hybrid.sh                 50,000 points, 100-d, 300 queries
#   POINTS=200000 QUERIES=500 scripts/bench/hybrid.sh
# tests/bench/hybrid_main.cc says what each row is.
set -euo pipefail
cd "$(dirname "$0")/../.."

POINTS=${POINTS:-50000} DIM=${DIM:-100} QUERIES=${QUERIES:-300} PASSES=${PASSES:-3} EF=${EF:-64}
BUILD=${BUILD:-1}                  # 0: use the binaries already built
BUILD_DIR=${BUILD_DIR:-build/release}
bin=${QDRANTD:-$BUILD_DIR/qdrantd/qdrantd}
tools=${TOOLS:-$BUILD_DIR/tests/bench}

if [ "$BUILD" = 1 ]; then
  generator=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja" || true)
  cmake -S . -B "$BUILD_DIR" $generator -DCMAKE_BUILD_TYPE=Release -DQD_BUILD_TESTS=OFF >/dev/null
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target qdrantd qd_hybrid_bench >/dev/null
fi
[ -x "$bin" ] && [ -x "$tools/qd_hybrid_bench" ] || { echo "build first: make build" >&2; exit 1; }

dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port) grpc_port=$(free_port)
QDRANT__STORAGE__STORAGE_PATH=$dir/storage QDRANT__SERVICE__HOST=127.0.0.1 \
  QDRANT__SERVICE__HTTP_PORT=$http_port QDRANT__SERVICE__GRPC_PORT=$grpc_port \
  QDRANT__LOG_LEVEL=warn "$bin" --stacktrace >"$dir/qdrantd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/qdrantd.log" >&2; exit 1; }
  sleep 0.1
done

echo "== hybrid query: $POINTS points, $DIM-d, $QUERIES queries, $(nproc) cores, qdrantd $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
"$tools/qd_hybrid_bench" --port "$http_port" --points "$POINTS" --dim "$DIM" \
  --queries "$QUERIES" --passes "$PASSES" --ef "$EF" \
  || { echo "qd_hybrid_bench failed; the daemon's log:" >&2; tail -20 "$dir/qdrantd.log" >&2; exit 1; }
