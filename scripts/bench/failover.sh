#!/usr/bin/env bash
# Benchmark (issue #5 item 5): leader failover of a 3-node cluster on 127.0.0.1 with
# tick_period_ms 100. Each repetition SIGKILLs the current leader and measures the time until a
# collection create (PUT /collections/failover-<n>, through consensus) sent to a survivor
# succeeds; the killed peer is then restarted from its storage and the cluster is let converge
# before the next repetition. A create retried after a timed-out attempt may find the collection
# made by that attempt (409): that counts as done, at the time the 409 arrives.
# Prints every sample and min/median/max. Not a test: figures only.
#   usage: scripts/bench/failover.sh [repetitions=20]
set -euo pipefail
cd "$(dirname "$0")/../.."
reps=${1:-20}
bin=${QDRANTD:-build/release/qdrantd/qdrantd}
[ -x "$bin" ] || bin=build/test/qdrantd/qdrantd
[ -x "$bin" ] || { echo "build first: make build" >&2; exit 1; }
exec python3 - "$(realpath "$bin")" "$reps" <<'PY'
import json, os, signal, socket, statistics, subprocess, sys, tempfile, time, urllib.request

binary, reps = sys.argv[1], int(sys.argv[2])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def request(port, method, path, body=None, timeout=2.0):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else body.encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
            try:
                return r.status, json.loads(body or b"null")
            except ValueError:
                return r.status, body
    except urllib.error.HTTPError as e:
        return e.code, None
    except Exception:
        return 0, None

class Peer:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="qd-failover-")
        self.http, self.grpc, self.p2p = free_port(), free_port(), free_port()
        self.proc = None
    @property
    def uri(self): return f"http://127.0.0.1:{self.p2p}"
    def start(self, bootstrap=None):
        args = [binary, "--uri", self.uri] + (["--bootstrap", bootstrap] if bootstrap else [])
        env = dict(os.environ, QDRANT__CLUSTER__ENABLED="true", QDRANT__SERVICE__HOST="127.0.0.1",
                   QDRANT__SERVICE__HTTP_PORT=str(self.http), QDRANT__SERVICE__GRPC_PORT=str(self.grpc),
                   QDRANT__CLUSTER__P2P__PORT=str(self.p2p), QDRANT__CLUSTER__CONSENSUS__TICK_PERIOD_MS="100",
                   QDRANT__LOG_LEVEL="warn")
        for k in ("QDRANT_URI", "QDRANT_BOOTSTRAP", "RUN_MODE"): env.pop(k, None)
        self.proc = subprocess.Popen(args, cwd=self.dir, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir, "stderr.log"), "ab"))
    def cluster(self):
        status, body = request(self.http, "GET", "/cluster", timeout=1.0)
        return body["result"] if status == 200 else None
    def wait_ready(self, deadline=30):
        end = time.time() + deadline
        while time.time() < end:
            if request(self.http, "GET", "/readyz", timeout=1.0)[0] == 200: return
            time.sleep(0.05)
        raise SystemExit("a peer did not become ready: " + open(os.path.join(self.dir, "stderr.log")).read()[-2000:])

def converged(peers):
    leaders = set()
    for p in peers:
        c = p.cluster()
        if not c or len(c["peers"]) != len(peers) or not c["raft_info"]["is_voter"] or c["raft_info"]["leader"] is None:
            return None
        leaders.add(c["raft_info"]["leader"])
    return leaders.pop() if len(leaders) == 1 else None

peers = [Peer() for _ in range(3)]
try:
    peers[0].start(); peers[0].wait_ready()
    for i in (1, 2): peers[i].start(peers[0].uri); peers[i].wait_ready()
    samples = []
    for rep in range(reps):
        end = time.time() + 60
        while (leader := converged(peers)) is None:
            if time.time() > end: raise SystemExit("cluster did not converge")
            time.sleep(0.1)
        victim = next(p for p in peers if p.cluster()["peer_id"] == leader)
        survivor = next(p for p in peers if p is not victim)
        victim.proc.send_signal(signal.SIGKILL); victim.proc.wait()
        t0 = time.monotonic()
        attempted = False
        while True:
            status, _ = request(survivor.http, "PUT", f"/collections/failover-{rep}?timeout=1",
                                '{"vectors": {"size": 4, "distance": "Dot"}}', timeout=3.0)
            if status == 200 or (status == 409 and attempted): break
            attempted = True
            if time.monotonic() - t0 > 30: raise SystemExit("no collection create within 30 s")
            time.sleep(0.02)
        took = time.monotonic() - t0
        samples.append(took)
        print(f"repetition {rep + 1:2d}: {took * 1000:7.0f} ms", flush=True)
        victim.start(); victim.wait_ready()
    ms = sorted(s * 1000 for s in samples)
    print(f"failover (SIGKILL leader -> collection create via survivor), tick_period_ms=100, {len(ms)} runs: "
          f"min {ms[0]:.0f} ms, median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms ({os.cpu_count()} cores)")
finally:
    for p in peers:
        if p.proc and p.proc.poll() is None:
            p.proc.send_signal(signal.SIGKILL); p.proc.wait()
        subprocess.run(["rm", "-rf", p.dir])
PY
