#!/usr/bin/env bash
# Benchmark: GET /healthz requests/s with HTTP/1.1 keep-alive, measured by wrk against a Release
# qdrantd on 127.0.0.1. Prints wrk's report and one summary line. Not a test: figures only.
#   usage: scripts/bench/healthz.sh [seconds=10] [connections=64] [wrk threads=1]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10} connections=${2:-64} threads=${3:-1}
bin=${QDRANTD:-build/release/qdrantd/qdrantd}
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: bash scripts/install-deps.sh" >&2; exit 1; }

dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port) grpc_port=$(free_port)
(cd "$dir" && QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$http_port \
   QDRANT__SERVICE__GRPC_PORT=$grpc_port QDRANT__LOG_LEVEL=warn exec "$OLDPWD/$bin") &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break
  sleep 0.1
done

out=$(wrk -t "$threads" -c "$connections" -d "${duration}s" "http://127.0.0.1:$http_port/healthz")
echo "$out"
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
echo "healthz keep-alive: ${rps} requests/s (wrk -t$threads -c$connections -d${duration}s, $(nproc) cores, client on the same machine)"
