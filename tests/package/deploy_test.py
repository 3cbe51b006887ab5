#!/usr/bin/python3
"""The deployment examples, run: deploy/docker-compose.yml and deploy/kubernetes/ (label deploy).

  deploy_test.py compose    SRCDIR QDRANTD   the compose file's services
  deploy_test.py kubernetes SRCDIR QDRANTD   the StatefulSet's pods qdrant-0..N-1
  deploy_test.py dockerfile SRCDIR           the image layout the other two rely on

Docker and Kubernetes do not run here, so each container becomes a local process that runs
the example's exact command (argv) and environment, in a directory laid out as
deploy/Dockerfile lays out /qdrant (./qdrant is qdrantd, config/config.yaml is
conf/config.yaml). What a container network gives is given the same way: each container has its
own address (127.0.0.2, .3, ... with the standard ports 6333-6335; QDRANT__SERVICE__HOST binds
it there, as a pod IP would) and its hostnames resolve through an /etc/hosts bind-mounted in a
private mount namespace (unshare), so `http://qdrant_node1:6335` and `qdrant-0.qdrant-headless`
are used unchanged. A typo in a flag, a variable, a hostname or a path fails the test.
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

READY_SECONDS = 60


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def http_get(address, path, timeout=2.0):
    """(status, body) of GET http://address:6333/path; status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(f"http://{address}:6333{path}", timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError):
        return 0, ""


def dockerfile_layout(src):
    """Checks deploy/Dockerfile lays out /qdrant as the examples expect; returns the config source."""
    text = open(os.path.join(src, "deploy/Dockerfile")).read()
    # Continuation lines joined, so that each instruction is one line.
    lines = [l.strip() for l in text.replace("\\\n", " ").splitlines() if l.strip() and not l.startswith("#")]
    def instruction(word):
        return [l[len(word):].strip() for l in lines if l.split()[0] == word]
    checks = {
        "FROM debian:12-slim": instruction("FROM") == ["debian:12-slim"],
        "WORKDIR /qdrant": instruction("WORKDIR") == ["/qdrant"],
        "a non-root numeric USER": bool(re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", (instruction("USER") or [""])[-1])),
        "VOLUME /qdrant/storage": any("/qdrant/storage" in v for v in instruction("VOLUME")),
        "EXPOSE 6333 6334 6335": instruction("EXPOSE") == ["6333 6334 6335"],
        "./qdrant is qdrantd": any("ln -s /usr/bin/qdrantd /qdrant/qdrant" in r for r in instruction("RUN")),
        "wget installed": any(re.search(r"apt-get install .*\bwget\b", r) for r in instruction("RUN")),
        "the packages installed": any("/tmp/packages/*.deb" in r for r in instruction("RUN")),
        "HEALTHCHECK on /readyz": any("http://127.0.0.1:6333/readyz" in h for h in instruction("HEALTHCHECK")),
        "CMD ./qdrant": instruction("CMD") == ['["./qdrant"]'],
    }
    for what, ok in checks.items():
        if not ok:
            fail(f"deploy/Dockerfile: expected {what}")
    copies = [c.split() for c in instruction("COPY")]
    config = [c[0] for c in copies if c[-1] == "/qdrant/config/config.yaml"]
    if not config:
        fail("deploy/Dockerfile does not COPY a config to /qdrant/config/config.yaml")
    return os.path.join(src, config[0])


class Container:
    """One container as a local process: its own address, /etc/hosts, /qdrant directory."""

    def __init__(self, name, argv, env, address, hosts_file, qdrantd, config, root):
        self.name, self.address = name, address
        self.dir = os.path.join(root, name)
        os.makedirs(os.path.join(self.dir, "config"))
        os.makedirs(os.path.join(self.dir, "storage"))
        os.symlink(qdrantd, os.path.join(self.dir, "qdrant"))
        shutil.copy(config, os.path.join(self.dir, "config", "config.yaml"))
        self.log_path = os.path.join(root, name + ".log")
        environment = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.dir,
                       "HOSTNAME": name, "QDRANT__SERVICE__HOST": address}
        environment.update(env)
        unshare = ["unshare", "--mount"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--mount"]
        wrapper = unshare + ["sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts_file]
        print(f"{name} ({address}): {shlex.join(argv)}  env {env}", flush=True)
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(wrapper + argv, cwd=self.dir, env=environment,
                                        stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def running(self):
        return self.process.poll() is None

    def logs(self):
        return open(self.log_path).read()

    def stop(self):
        if self.running():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.log.close()


def wait_ready(container):
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if not container.running():
            fail(f"{container.name} exited with {container.process.returncode}:\n{container.logs()}")
        if http_get(container.address, "/readyz")[0] == 200:
            return
        time.sleep(0.2)
    fail(f"{container.name} not ready in {READY_SECONDS} s:\n{container.logs()}")


def check_cluster(containers):
    """Every node is ready, sees all the others as peers, and warned about no config key."""
    for c in containers:
        wait_ready(c)
    deadline = time.monotonic() + READY_SECONDS
    for c in containers:
        while True:
            status, body = http_get(c.address, "/cluster")
            peers = json.loads(body)["result"].get("peers", {}) if status == 200 else {}
            if len(peers) == len(containers):
                break
            if time.monotonic() > deadline:
                fail(f"{c.name}: /cluster shows {len(peers)} peers, expected {len(containers)}: {body}")
            time.sleep(0.2)
    for c in containers:
        if "unknown config key" in c.logs():
            fail(f"{c.name} ignored a config key (a typo in the example?):\n{c.logs()}")
    print(f"ok: {len(containers)} peers, each ready and seeing all the others", flush=True)


def run(src, qdrantd, specs):
    """specs: [(name, argv, env)] in start order; `wait_each`: start the next once one is ready."""
    config = dockerfile_layout(src)
    root = tempfile.mkdtemp(prefix="qd-deploy-")
    hosts_file = os.path.join(root, "hosts")
    names, containers = specs["names"], []
    with open(hosts_file, "w") as f:
        f.write("127.0.0.1 localhost\n")
        for i, aliases in enumerate(names):
            f.write(f"127.0.0.{i + 2} {' '.join(aliases)}\n")
    try:
        for i, (name, argv, env) in enumerate(specs["containers"]):
            containers.append(Container(name, argv, env, f"127.0.0.{i + 2}", hosts_file,
                                        os.path.abspath(qdrantd), config, root))
            if specs["wait_each"]:
                wait_ready(containers[-1])
        check_cluster(containers)
    finally:
        for c in containers:
            c.stop()
        leftover = [c.name for c in containers if c.running()]
        shutil.rmtree(root, ignore_errors=True)
        if leftover:
            fail(f"still running: {leftover}")


def compose_specs(src):
    doc = yaml.safe_load(open(os.path.join(src, "deploy/docker-compose.yml")))
    services = doc["services"]
    order = []
    def visit(name):  # depends_on first, as compose starts them
        if name in order:
            return
        for dep in services[name].get("depends_on", []):
            visit(dep)
        order.append(name)
    for name in services:
        visit(name)
    containers = []
    for name in order:
        s = services[name]
        if s.get("image") != "qdrantd:latest":
            fail(f"service {name} uses image {s.get('image')}, not the one deploy/Dockerfile builds")
        command = s["command"]
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        env = s.get("environment", {})
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        containers.append((name, argv, {k: str(v) for k, v in env.items()}))
    return {"names": [[n] for n in order], "containers": containers, "wait_each": False}


def kubernetes_specs(src):
    directory = os.path.join(src, "deploy/kubernetes")
    docs = []
    for f in sorted(os.listdir(directory)):
        if f.endswith(".yaml") and f != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(open(os.path.join(directory, f))) if d]
    kinds = {d["kind"] for d in docs}
    for kind in ("StatefulSet", "Service", "PodDisruptionBudget"):
        if kind not in kinds:
            fail(f"deploy/kubernetes has no {kind}")
    sts = next(d for d in docs if d["kind"] == "StatefulSet")
    headless = [d for d in docs if d["kind"] == "Service" and d["spec"].get("clusterIP") == "None"]
    if not headless or headless[0]["metadata"]["name"] != sts["spec"]["serviceName"]:
        fail("the StatefulSet's serviceName is not a headless Service")
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/livez")):
        if container.get(probe, {}).get("httpGet", {}).get("path") != path:
            fail(f"the container's {probe} is not on {path}")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    for d in docs:
        selector = d["spec"].get("selector", {})
        selector = selector.get("matchLabels", selector)
        if not selector.items() <= labels.items():
            fail(f"{d['kind']} {d['metadata']['name']} selects {selector}, pods have {labels}")
    argv = list(container.get("command", [])) + list(container.get("args", []))
    env = {e["name"]: str(e["value"]) for e in container.get("env", [])}
    service, name = sts["spec"]["serviceName"], sts["metadata"]["name"]
    pods = [f"{name}-{i}" for i in range(sts["spec"]["replicas"])]
    return {"names": [[p, f"{p}.{service}"] for p in pods],
            "containers": [(p, argv, env) for p in pods],
            "wait_each": sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"}


def main():
    what, src = sys.argv[1], sys.argv[2]
    if what == "dockerfile":
        dockerfile_layout(src)
        print("ok: deploy/Dockerfile lays out /qdrant as Qdrant's image does")
    elif what == "compose":
        run(src, sys.argv[3], compose_specs(src))
    elif what == "kubernetes":
        run(src, sys.argv[3], kubernetes_specs(src))
    else:
        fail("usage: deploy_test.py dockerfile|compose|kubernetes SRCDIR [QDRANTD]")


if __name__ == "__main__":
    main()
