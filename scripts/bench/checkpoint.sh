#!/usr/bin/env bash
# Benchmark (issue #22 item 3): write latency across index checkpoints. Not a test: figures only.
# One standalone qdrantd (release build) with N x DIM clustered points (default 300k x 128) in
# one shard; then one writer upserts single points (wait=true) for DURATION seconds (default
# 200: three of the daemon's minute checkpoints) and the script prints the upsert latency
# p50/p99/p99.9/max over the whole run and over the seconds around each checkpoint, and the
# daemon's own account of each checkpoint: how long writes waited for the graphs to be copied,
# and how long writing them took (what writes waited for before).
#   usage: scripts/bench/checkpoint.sh
#   N=100000 DURATION=130 scripts/bench/checkpoint.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${N:-300000} QUERIES=${QUERIES:-100} DIM=${DIM:-128} CLUSTERS=${CLUSTERS:-100} SEED=${SEED:-1}
METRIC=${METRIC:-l2} BUILD=${BUILD:-1} DURATION=${DURATION:-200}
bin=${QDRANTD:-build/release/qdrantd/qdrantd}
tools=${TOOLS:-build/release/tests/bench}
if [ "$BUILD" = 1 ]; then
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DQD_BUILD_TESTS=OFF >/dev/null
  cmake --build build/release -j "$(nproc)" --target qdrantd qd_bench_tools >/dev/null
fi
[ -x "$bin" ] && [ -x "$tools/qd_bench" ] || { echo "build first: make build" >&2; exit 1; }
data=build/bench-data/clustered-n$N-q$QUERIES-d$DIM-c$CLUSTERS-s$SEED-$METRIC
if [ ! -s "$data/groundtruth.ivecs" ]; then
  "$tools/qd_bench_gen" --out "$data" --n "$N" --queries "$QUERIES" --dim "$DIM" \
    --clusters "$CLUSTERS" --seed "$SEED" --metric "$METRIC" --threads 2
fi

dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port) grpc=$(free_port)
(cd "$dir" && exec env QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT="$http" \
  QDRANT__SERVICE__GRPC_PORT="$grpc" QDRANT__LOG_LEVEL=info "$OLDPWD/$bin" 2>"$dir/daemon.log") &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$http/readyz" >/dev/null && break; sleep 0.1; done

echo "== loading $N x $DIM points"
"$tools/qd_bench" --transport rest --port "$http" --data "$data" --metric "$METRIC" \
  --collection t --collection-json '"shard_number":1' --count-points \
  --ef 64 --concurrency 0 --min-seconds 0.2 >/dev/null

echo "== one writer, single-point upserts (wait=true), $DURATION s"
python3 - "$http" "$DIM" "$DURATION" "$dir/daemon.log" <<'PY'
import json, re, sys, time, urllib.request, random, datetime
port, dim, duration, log = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
random.seed(1)
def upsert(i):
    body = {"points": [{"id": 50_000_000 + i, "vector": [random.random() for _ in range(dim)],
                        "payload": {"n": i}}]}
    req = urllib.request.Request(f"http://127.0.0.1:{port}/collections/t/points?wait=true",
                                 method="PUT", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    urllib.request.urlopen(req, timeout=60).read()
samples = []  # (wall clock end, latency ms)
end = time.time() + duration
i = 0
while time.time() < end:
    t = time.time()
    upsert(i)
    samples.append((time.time(), (time.time() - t) * 1000))
    i += 1
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")
def line(name, xs):
    print(f"{name}: {len(xs)} writes, p50 {pct(xs, .5):.2f} ms, p99 {pct(xs, .99):.2f}, "
          f"p99.9 {pct(xs, .999):.2f}, max {max(xs) if xs else float('nan'):.2f}")
lat = [l for _, l in samples]
line("all", lat)
print(f"p99.9 / p50 = {pct(lat, .999) / pct(lat, .5):.2f} (target: <= 3)")
pat = re.compile(r"^(\S+) INFO .*index checkpoint at op (\d+): graphs copied in (\d+) ms \(writes wait\), written in (\d+) ms")
for text in open(log):
    m = pat.match(text)
    if not m:
        continue
    at = datetime.datetime.fromisoformat(m.group(1).replace("Z", "+00:00")).timestamp()
    written = int(m.group(4)) / 1000
    # The writes that ended while the checkpoint ran (from its copy to the end of its write).
    near = [l for e, l in samples if at - written - int(m.group(3)) / 1000 - 0.05 <= e <= at + 0.05]
    print(f"checkpoint at op {m.group(2)}: copy {m.group(3)} ms (writes wait), write {m.group(4)} ms")
    line("  writes during it", near)
PY
