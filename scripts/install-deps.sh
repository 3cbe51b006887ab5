#!/usr/bin/env bash
# Installs every Debian 12 package that building, testing and benchmarking qdrantd needs.
# Idempotent and quiet when everything is already there. Needs root (or sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git curl
  # libraries the daemon and the CLI link against
  libuv1-dev libh2o-dev libssl-dev zlib1g-dev
  libgrpc++-dev libabsl-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libyaml-cpp-dev libcli11-dev libtomlplusplus-dev rapidjson-dev
  libsqlite3-dev libhnswlib-dev libraft-dev libsystemd-dev prometheus-cpp-dev
  # tests and benchmarks
  catch2 wrk procps
  openssl  # the TLS tests make a CA and certificates at run time (tests/integration/tls_test.cc)
  # packages and deployment examples (make package-deb, tests/package)
  debhelper lintian fakeroot shellcheck yamllint python3-yaml rpm
  systemd  # systemd-analyze verify and security --offline on the packaged unit; nothing runs
)
# kubectl (for `kubectl kustomize` on deploy/kubernetes): Debian's kubernetes-client, unless the
# machine already has a kubectl (e.g. from Google's or Kubernetes' own repositories), which it
# would conflict with.
if ! command -v kubectl >/dev/null 2>&1; then packages+=(kubernetes-client); fi
# npm installs Qdrant's JS clients for the compatibility tests (tests/compat); it pins its own
# Node.js 22 from npm, so any Node.js that can run npm will do. Machines that already have
# node and npm (e.g. from NodeSource) keep theirs.
if ! command -v npm >/dev/null 2>&1; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
