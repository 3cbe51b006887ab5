# Sourced by the cluster benchmarks (cluster.sh, transfer.sh): builds the release binaries
# (unless BUILD=0), generates the clustered set, and starts local qdrantd peers in cluster mode
# on free ports, all killed and removed at exit. The caller sets N QUERIES DIM CLUSTERS SEED
# METRIC BUILD, and PEER_ENV (extra VAR=value words for every peer) if it needs it; PEER_TLS=1
# makes a CA and a certificate for 127.0.0.1 and runs the peers with mutual TLS between them.
# Defines: root bin tools data dir pids http grpc p2p, and start_peer NAME [BOOTSTRAP_P2P_PORT].
# shellcheck shell=bash
root=$PWD
bin=${QDRANTD:-build/release/qdrantd/qdrantd}
tools=${TOOLS:-build/release/tests/bench}

if [ "$BUILD" = 1 ]; then
  generator=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja" || true)
  # shellcheck disable=SC2086  # the generator is one option or nothing
  cmake -S . -B build/release $generator -DCMAKE_BUILD_TYPE=Release -DQD_BUILD_TESTS=OFF >/dev/null
  cmake --build build/release -j "$(nproc)" --target qdrantd qd_bench_tools >/dev/null
fi
[ -x "$bin" ] && [ -x "$tools/qd_bench" ] || { echo "build first: make build" >&2; exit 1; }

data=build/bench-data/clustered-n$N-q$QUERIES-d$DIM-c$CLUSTERS-s$SEED-$METRIC
if [ ! -s "$data/groundtruth.ivecs" ]; then
  "$tools/qd_bench_gen" --out "$data" --n "$N" --queries "$QUERIES" --dim "$DIM" \
    --clusters "$CLUSTERS" --seed "$SEED" --metric "$METRIC" --threads 2
fi

dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scheme=http
if [ "${PEER_TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey rsa:2048 -sha256 -days 2 -nodes -keyout "$dir/ca.key" \
    -out "$dir/ca.pem" -subj /CN=bench-ca 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout "$dir/peer.key" -out "$dir/peer.csr" \
    -subj /CN=peer 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$dir/peer.ext"
  openssl x509 -req -in "$dir/peer.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 2 -sha256 -extfile "$dir/peer.ext" -out "$dir/peer.pem" 2>/dev/null
  PEER_ENV="${PEER_ENV:-} QDRANT__CLUSTER__P2P__ENABLE_TLS=true QDRANT__TLS__CERT=$dir/peer.pem"
  PEER_ENV="$PEER_ENV QDRANT__TLS__KEY=$dir/peer.key QDRANT__TLS__CA_CERT=$dir/ca.pem"
  scheme=https
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A http grpc p2p
start_peer() {  # start_peer NAME [BOOTSTRAP_P2P_PORT]
  local name=$1 boot=${2:-}
  http[$name]=$(free_port) grpc[$name]=$(free_port) p2p[$name]=$(free_port)
  mkdir -p "$dir/$name"
  # shellcheck disable=SC2086  # PEER_ENV is a list of VAR=value words
  (cd "$dir/$name" && exec env QDRANT__CLUSTER__ENABLED=true QDRANT__SERVICE__HOST=127.0.0.1 \
    QDRANT__SERVICE__HTTP_PORT="${http[$name]}" QDRANT__SERVICE__GRPC_PORT="${grpc[$name]}" \
    QDRANT__CLUSTER__P2P__PORT="${p2p[$name]}" QDRANT__LOG_LEVEL=warn ${PEER_ENV:-} \
    "$root/$bin" --uri "$scheme://127.0.0.1:${p2p[$name]}" ${boot:+--bootstrap "$scheme://127.0.0.1:$boot"} \
    >"$dir/$name.log" 2>&1) &
  pids+=($!)
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:${http[$name]}/readyz" >/dev/null && return 0
    sleep 0.1
  done
  echo "peer $name did not become ready" >&2
  cat "$dir/$name.log" >&2
  exit 1
}
