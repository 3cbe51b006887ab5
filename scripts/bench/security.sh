#!/usr/bin/env bash
# Benchmark: what API keys and TLS cost on REST search (issue #19). Starts one qdrantd three
# times on the same data: plain HTTP without a key, plain HTTP with service.api_key (every
# request carries the api-key header and is checked), and HTTPS (service.enable_tls, a
# certificate made here with openssl) with the key. For each, wrk runs POST
# /collections/bench/points/search with keep-alive and prints requests/s. Not a test: figures.
#   usage: scripts/bench/security.sh [seconds=10] [connections=32] [points=5000] [dim=64]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-10} connections=${2:-32} points=${3:-5000} dim=${4:-64}
bin=$(realpath "${QDRANTD:-build/release/qdrantd/qdrantd}")
[ -x "$bin" ] || { echo "build first: make build (or set QDRANTD)" >&2; exit 1; }
for tool in wrk openssl curl python3; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: bash scripts/install-deps.sh" >&2; exit 1; }
done

dir=$(mktemp -d)
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap 'stop; rm -rf "$dir"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
key="bench-$(openssl rand -hex 16)"

openssl req -x509 -newkey rsa:2048 -sha256 -days 1 -nodes -keyout "$dir/key.pem" \
  -out "$dir/cert.pem" -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null

# start <extra env assignments...>: one qdrantd on $dir/storage, its REST port in $port.
start() {
  port=$(free_port)
  (cd "$dir" && env QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT="$port" \
     QDRANT__SERVICE__GRPC_PORT="$(free_port)" QDRANT__LOG_LEVEL=warn \
     QDRANT__TLS__CERT="$dir/cert.pem" QDRANT__TLS__KEY="$dir/key.pem" "$@" "$bin") &
  pid=$!
  for _ in $(seq 200); do
    curl -skf "http://127.0.0.1:$port/readyz" >/dev/null && return
    curl -skf "https://127.0.0.1:$port/readyz" >/dev/null && return
    sleep 0.1
  done
  echo "qdrantd did not start" >&2
  exit 1
}

# The data, loaded once without a key.
start
curl -sf -X PUT "http://127.0.0.1:$port/collections/bench" -H 'Content-Type: application/json' \
  -d "{\"vectors\":{\"size\":$dim,\"distance\":\"Cosine\"}}" >/dev/null
python3 - "$points" "$dim" "$dir" <<'EOF'
import json, random, sys
points, dim, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
random.seed(7)
for start in range(0, points, 1000):
    batch = [{"id": i, "vector": [random.random() for _ in range(dim)]}
             for i in range(start, min(points, start + 1000))]
    with open(f"{out}/batch-{start}.json", "w") as f:
        json.dump({"points": batch}, f)
with open(f"{out}/query.json", "w") as f:
    json.dump({"vector": [random.random() for _ in range(dim)], "limit": 10}, f)
EOF
for f in "$dir"/batch-*.json; do
  curl -sf -X PUT "http://127.0.0.1:$port/collections/bench/points?wait=true" \
    -H 'Content-Type: application/json' --data-binary "@$f" >/dev/null
done
stop

cat >"$dir/search.lua" <<'EOF'
local f = io.open(os.getenv("QUERY_FILE"), "r")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("API_KEY")
if key and key ~= "" then wrk.headers["api-key"] = key end
EOF

# run <label> <scheme> <api key or empty> <extra env...>
run() {
  local label=$1 scheme=$2 api_key=$3
  shift 3
  start "$@"
  local out rps
  out=$(QUERY_FILE="$dir/query.json" API_KEY="$api_key" wrk -t 1 -c "$connections" \
    -d "${duration}s" -s "$dir/search.lua" "$scheme://127.0.0.1:$port/collections/bench/points/search")
  stop
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$label: ${rps} searches/s${non2xx:+ (non-2xx: $non2xx)}"
}

echo "REST search, $points points x $dim dims, top 10; wrk -t1 -c$connections -d${duration}s, $(nproc) cores, client on the same machine"
run "no key, http     " http ""
run "api key, http    " http "$key" QDRANT__SERVICE__API_KEY="$key"
run "api key, https   " https "$key" QDRANT__SERVICE__API_KEY="$key" QDRANT__SERVICE__ENABLE_TLS=true
