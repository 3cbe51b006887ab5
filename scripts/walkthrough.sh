#!/usr/bin/env bash
# Writes docs/operations.md's walkthrough (issue #18) from a real run: local qdrantd peers on
# 127.0.0.1 (free ports, a temp dir, all killed at exit), and every step a qdctl command whose
# real output is printed under it, as Markdown on stdout. Peer ids are random, so every run's
# text differs in its numbers only.
#   usage: scripts/walkthrough.sh > /tmp/walkthrough.md
#          QDRANTD=build/test/qdrantd/qdrantd QDCTL=build/test/qdctl/qdctl scripts/walkthrough.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bin=${QDRANTD:-build/release/qdrantd/qdrantd}
qdctl_bin=${QDCTL:-build/release/qdctl/qdctl}
if [ ! -x "$bin" ] || [ ! -x "$qdctl_bin" ]; then
  echo "build first: make build" >&2
  exit 1
fi

dir=$(mktemp -d)
declare -A pid http grpc p2p
cleanup() {
  for p in "${pid[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
launch() {  # launch NAME [BOOTSTRAP_P2P_PORT]: starts (or restarts) a peer, waits until it answers
  local name=$1 boot=${2:-}
  if [ -z "${http[$name]:-}" ]; then
    http[$name]=$(free_port) grpc[$name]=$(free_port) p2p[$name]=$(free_port)
  fi
  mkdir -p "$dir/$name"
  (cd "$dir/$name" && exec env QDRANT__CLUSTER__ENABLED=true QDRANT__SERVICE__HOST=127.0.0.1 \
    QDRANT__SERVICE__HTTP_PORT="${http[$name]}" QDRANT__SERVICE__GRPC_PORT="${grpc[$name]}" \
    QDRANT__CLUSTER__P2P__PORT="${p2p[$name]}" QDRANT__LOG_LEVEL=warn \
    "$root/$bin" --uri "http://127.0.0.1:${p2p[$name]}" ${boot:+--bootstrap "http://127.0.0.1:$boot"} \
    >>"$dir/$name.log" 2>&1) &
  pid[$name]=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:${http[$name]}/healthz" >/dev/null && return 0
    sleep 0.1
  done
  echo "peer $name did not answer" >&2
  cat "$dir/$name.log" >&2
  exit 1
}
ready() { curl -sf "http://127.0.0.1:${http[$1]}/readyz" >/dev/null; }
wait_until() {  # wait_until SECONDS COMMAND...: polls every 0.2 s
  local seconds=$1
  shift
  for _ in $(seq $((seconds * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  echo "timed out waiting for: $*" >&2
  exit 1
}
peer_id() { curl -sf "http://127.0.0.1:${http[$1]}/cluster" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["peer_id"])'; }
# Runs qdctl against peer a (or QDCTL_VIA) and prints the command and its output as Markdown.
step() {
  local via=${QDCTL_VIA:-a} code=0 out
  out=$("$root/$qdctl_bin" --url "http://127.0.0.1:${grpc[$via]}" "$@" 2>&1) || code=$?
  printf '```console\n$ qdctl %s\n%s\n' "$*" "$out"
  [ "$code" = 0 ] || printf '(exit status %s)\n' "$code"
  printf '```\n\n'
}
say() { printf '%s\n\n' "$*"; }
no_transfers() { [ "$("$root/$qdctl_bin" --url "http://127.0.0.1:${grpc[a]}" -o json transfers)" = "[]" ]; }
joined_rebalance_done() {
  curl -sf "http://127.0.0.1:${http[a]}/cluster" | python3 -c \
    'import json,sys; r=json.load(sys.stdin)["result"]["rebalance"]; sys.exit(0 if r["state"] == "done" and "joined" in (r["reason"] or "") else 1)'
}
write() {  # write JSON: upserts through peer a, retried while a replica is being marked Dead
  local status
  for _ in $(seq 50); do
    status=$(curl -s -o "$dir/write.out" -w '%{http_code}' -X PUT -H 'Content-Type: application/json' \
      "http://127.0.0.1:${http[a]}/collections/products/points?wait=true" -d "$1")
    [ "$status" = 200 ] && return 0
    sleep 0.2
  done
  echo "the write failed: HTTP $status $(cat "$dir/write.out")" >&2
  exit 1
}

say "### Three peers and a collection"
launch a
launch b "${p2p[a]}"
launch c "${p2p[a]}"
wait_until 30 ready c
step cluster status
step collection create products --size 4 --distance Cosine --shard-number 6 --replication-factor 2
points=$(python3 -c 'import json; print(json.dumps({"points": [{"id": i, "vector": [1, i % 7, i % 5, 1], "payload": {"n": i}} for i in range(1, 1001)]}))')
write "$points"
say "1,000 points are upserted over REST. Each shard has two replicas, spread over the peers:"
step collection cluster products

say "### Grow to four peers"
say "A fourth peer joins with \`--bootstrap\`; \`cluster.rebalance.on_join\` moves it its share."
launch d "${p2p[a]}"
wait_until 120 joined_rebalance_done
wait_until 120 no_transfers
step rebalance status
step collection cluster products

say "### Drain a peer and remove it"
b_id=$(peer_id b)
step peer drain "$b_id" --wait
step peer remove "$b_id"
kill -9 "${pid[b]}" 2>/dev/null || true
step cluster status

say "### A peer dies and comes back"
c_id=$(peer_id c)
kill -9 "${pid[c]}"
wait "${pid[c]}" 2>/dev/null || true
# A write marks its replicas Dead.
write '{"points":[{"id":5000,"vector":[1,2,3,4]},{"id":5001,"vector":[4,3,2,1]},{"id":5002,"vector":[2,2,2,2]},{"id":5003,"vector":[3,1,3,1]},{"id":5004,"vector":[1,1,2,2]},{"id":5005,"vector":[2,1,1,2]}]}'
say "Peer $c_id was killed with SIGKILL, and a write marked its replicas Dead:"
step cluster doctor
launch c
wait_until 120 ready c
wait_until 120 no_transfers
say "Restarted, it gets its replicas back by itself (automatic recovery, wal_delta):"
step cluster doctor
step collection verify products
