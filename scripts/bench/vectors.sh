#!/usr/bin/env bash
# Benchmark (issue #3 item 9): qdrantd over REST against raw in-process hnswlib, same data, same
# M / ef_construct / ef, same run. Prints both tools' tables and the ratios the issue targets.
# Not a test: figures only.
#   usage: scripts/bench/vectors.sh            (settings from the environment, defaults below)
#   SET=sift1m scripts/bench/vectors.sh        uses ../shared/data/sift1m/ (base/query/groundtruth)
#   N=20000 DIM=64 scripts/bench/vectors.sh    a smaller clustered set
# Without a real set it generates a clustered one into build/bench-data/ (kept for the next run).
# Both tools' JSON figures are kept in build/bench-results/vectors-<time>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

SET=${SET:-}                      # a directory name under DATA_ROOT; empty: clustered
# Real sets live in ../shared/data beside the checkout (../../shared/data from a worktree).
DATA_ROOT=${DATA_ROOT:-$root/../shared/data}
[ -d "$DATA_ROOT" ] || [ ! -d "$root/../../shared/data" ] || DATA_ROOT=$root/../../shared/data
N=${N:-100000} QUERIES=${QUERIES:-1000} DIM=${DIM:-128} CLUSTERS=${CLUSTERS:-100} SEED=${SEED:-1}
METRIC=${METRIC:-l2}              # l2 | cos | dot (a real set's metric must be given)
M=${M:-16} EF_CONSTRUCT=${EF_CONSTRUCT:-100} EFS=${EFS:-16,32,64,128,256}
THREADS=${THREADS:-2}             # hnswlib build and batched-search threads
UPSERT_BATCH=${UPSERT_BATCH:-256} UPSERT_CONNECTIONS=${UPSERT_CONNECTIONS:-2}
BATCH=${BATCH:-64} BATCH_CLIENTS=${BATCH_CLIENTS:-2} CONCURRENCY=${CONCURRENCY:-1,8}
MIN_SECONDS=${MIN_SECONDS:-2}     # each search measurement repeats the queries this long
BUILD=${BUILD:-1}                 # 0: use the binaries already in build/release
bin=${QDRANTD:-build/release/qdrantd/qdrantd}
tools=build/release/tests/bench

if [ "$BUILD" = 1 ]; then
  generator=$(command -v ninja >/dev/null 2>&1 && echo "-G Ninja" || true)
  cmake -S . -B build/release $generator -DCMAKE_BUILD_TYPE=Release -DQD_BUILD_TESTS=OFF >/dev/null
  cmake --build build/release -j "$(nproc)" --target qdrantd qd_bench_tools >/dev/null
fi
[ -x "$bin" ] && [ -x "$tools/qd_bench" ] || { echo "build first: make build" >&2; exit 1; }

if [ -n "$SET" ]; then
  data=$DATA_ROOT/$SET
  [ -d "$data" ] || { echo "no set $SET in $DATA_ROOT" >&2; exit 1; }
else
  data=build/bench-data/clustered-n$N-q$QUERIES-d$DIM-c$CLUSTERS-s$SEED-$METRIC
  if [ ! -s "$data/groundtruth.ivecs" ]; then
    "$tools/qd_bench_gen" --out "$data" --n "$N" --queries "$QUERIES" --dim "$DIM" \
      --clusters "$CLUSTERS" --seed "$SEED" --metric "$METRIC" --threads "$THREADS"
  fi
fi

dir=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Raw hnswlib first, on a quiet machine (the daemon is not started yet).
echo "== raw hnswlib, in process ($THREADS threads)"
"$tools/qd_hnsw_baseline" --data "$data" --metric "$METRIC" --m "$M" \
  --ef-construct "$EF_CONSTRUCT" --ef "$EFS" --threads "$THREADS" --min-seconds "$MIN_SECONDS" \
  --json "$dir/baseline.json"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_port=$(free_port) grpc_port=$(free_port)
QDRANT__STORAGE__STORAGE_PATH=$dir/storage QDRANT__SERVICE__HOST=127.0.0.1 \
  QDRANT__SERVICE__HTTP_PORT=$http_port QDRANT__SERVICE__GRPC_PORT=$grpc_port \
  QDRANT__LOG_LEVEL=warn "$bin" >"$dir/qdrantd.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$dir/qdrantd.log" >&2; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$http_port/healthz" >/dev/null || { echo "qdrantd did not answer" >&2; exit 1; }

echo
echo "== qdrantd over REST (client on the same machine)"
"$tools/qd_bench" --port "$http_port" --server-pid "$pid" --data "$data" --metric "$METRIC" \
  --m "$M" --ef-construct "$EF_CONSTRUCT" --ef "$EFS" --upsert-batch "$UPSERT_BATCH" \
  --upsert-connections "$UPSERT_CONNECTIONS" --batch-size "$BATCH" \
  --batch-clients "$BATCH_CLIENTS" --concurrency "$CONCURRENCY" --min-seconds "$MIN_SECONDS" --json "$dir/rest.json" \
  || { echo "qd_bench failed; qdrantd log:" >&2; tail -20 "$dir/qdrantd.log" >&2; exit 1; }

results=build/bench-results/vectors-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results" && cp "$dir/baseline.json" "$dir/rest.json" "$results/"
echo
echo "== qdrantd / raw hnswlib ($(nproc) cores, $(date -u +%F))"
python3 - "$results/baseline.json" "$results/rest.json" <<'PY'
import json, sys
base, rest = (json.load(open(p)) for p in sys.argv[1:3])
def mark(ok): return "ok " if ok else "MISS"
raw = {s["ef"]: s for s in base["search"]}
print(f'{"ef":>5} {"recall@10":>9} {"raw QPS":>9} {"batch QPS":>10} {"ratio":>6}   target >= 0.70')
best_recall = 0
for s in rest["search"]:
    r = raw.get(s["ef"])
    b = s["batch"]
    best_recall = max(best_recall, b["recall_at_k"])
    if r is None: continue
    ratio = b["qps"] / r["qps"]
    print(f'{s["ef"]:>5} {b["recall_at_k"]:>9.4f} {r["qps"]:>9.0f} {b["qps"]:>10.0f} {ratio:>6.2f}   {mark(ratio >= 0.7)}')
print(f'{"ef":>5} {"raw 1-thread QPS":>16} {"1 conn QPS":>11} {"ratio":>6}   (single requests, for reference)')
for s in rest["search"]:
    r = raw.get(s["ef"])
    one = next((x["result"] for x in s["single"] if x["concurrency"] == 1), None)
    if r and one: print(f'{s["ef"]:>5} {r["single_thread_qps"]:>16.0f} {one["qps"]:>11.0f} {one["qps"] / r["single_thread_qps"]:>6.2f}')
# Per CPU-second: how much CPU each side spent on the same work. Steadier than QPS when other
# jobs share the cores; the client's own CPU is not counted on the server's side.
if all("server_cpu_seconds" in s["batch"] for s in rest["search"]):
    print(f'{"ef":>5} {"raw q/CPU-s":>12} {"server q/CPU-s":>15} {"ratio":>6}   (batched, per CPU-second)')
    for s in rest["search"]:
        r, b = raw.get(s["ef"]), s["batch"]
        if not r or not r.get("cpu_seconds") or not b["server_cpu_seconds"]: continue
        a, c = r["queries"] / r["cpu_seconds"], b["queries"] / b["server_cpu_seconds"]
        print(f'{s["ef"]:>5} {a:>12.0f} {c:>15.0f} {c / a:>6.2f}')
print(f'recall@10 best {best_recall:.4f} (target >= 0.95 at some ef): {mark(best_recall >= 0.95)}')
if "upsert" in rest:
    u, b = rest["upsert"]["points_per_second"], base["build_points_per_second"]
    print(f'upsert incl. index build {u:.0f} points/s vs raw {base["threads"]}-thread build {b:.0f}: '
          f'{u / b:.2f} (target >= 0.70) {mark(u / b >= 0.7)}')
    sc, bc = rest["upsert"].get("server_cpu_seconds"), base.get("build_cpu_seconds")
    if sc and bc:
        print(f'  per CPU-second: server {base["points"] / sc:.0f} points, raw build '
              f'{base["points"] / bc:.0f}: {bc / sc:.2f}')
need = base["vectors_bytes"] + base["graph_bytes"]
mem = rest.get("server_memory_loaded")
if mem:
    mib = lambda x: x / 2**20
    ratio = mem["rss_bytes"] / need
    line = (f'server RSS {mib(mem["rss_bytes"]):.1f} MiB vs vectors+graph {mib(need):.1f} MiB: '
            f'{ratio:.2f} (target <= 1.50) {mark(ratio <= 1.5)}')
    empty = rest.get("server_memory_empty_collection")
    if empty:
        line += f'; growth over the empty daemon {(mem["rss_bytes"] - empty["rss_bytes"]) / need:.2f}'
    print(line)
    end = rest.get("server_memory_end")
    if end: print(f'server peak RSS (VmHWM) {mib(end["hwm_bytes"]):.1f} MiB')
PY
