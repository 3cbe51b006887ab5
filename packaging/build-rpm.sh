#!/usr/bin/env bash
# Builds the qdrantd and qdctl RPMs from this tree into OUTDIR (default build/rpm) with
# packaging/rpm/qdrantd.spec: a source tarball of the tree (tracked and untracked files, not what
# .gitignore hides), then rpmbuild in OUTDIR's own _topdir. RPM_NOCHECK=1 neither builds nor
# runs the unit tests (rpmbuild --without check).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/rpm}
rm -rf "$out"
mkdir -p "$out"/{SOURCES,SPECS,BUILD,RPMS,SRPMS}
out=$(cd "$out" && pwd)
version=$(sed -n 's/^Version: *//p' "$root/packaging/rpm/qdrantd.spec")
(cd "$root" && git ls-files -co --exclude-standard -z |
  tar -c --null -T - --transform "s#^#qdrantd-$version/#" -z) >"$out/SOURCES/qdrantd-$version.tar.gz"
args=(-bb --nodeps --define "_topdir $out")
if [ "${RPM_NOCHECK:-0}" = 1 ]; then args+=(--without check); fi
rpmbuild "${args[@]}" "$root/packaging/rpm/qdrantd.spec"
find "$out/RPMS" -name '*.rpm' -exec ls -l {} +
