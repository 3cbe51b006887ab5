#!/usr/bin/env bash
# Builds the qdrantd and qdctl .deb files from this tree into OUTDIR (default build/deb).
# dpkg-buildpackage writes its results next to the source tree, so it runs in a copy of the
# tree (tracked and untracked files, not what .gitignore hides) in OUTDIR/src; the .deb files
# land in OUTDIR. DEB_BUILD_OPTIONS passes through (nocheck skips building and running the unit
# tests; parallel=N). Used by `make package-deb` and tests/package.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/deb}
rm -rf "$out"
mkdir -p "$out/src"
out=$(cd "$out" && pwd)
(cd "$root" && git ls-files -co --exclude-standard -z | tar -c --null -T -) | tar -x -C "$out/src"
(cd "$out/src" && dpkg-buildpackage -b -uc -us)
ls -l "$out"/*.deb
