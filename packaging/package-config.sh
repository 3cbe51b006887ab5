#!/bin/sh
# Turns the installed copy of conf/config.yaml into the packaged /etc/qdrant/config.yaml: the
# same keys and comments (conf/config.yaml is also the built-in defaults, so the two cannot
# drift), with state under /var/lib/qdrant instead of the working directory.
# Used by debian/rules and packaging/rpm/qdrantd.spec. Fails if a path it rewrites is missing.
set -eu
file=$1
sed -i \
  -e 's#^\(  storage_path:\) \./storage$#\1 /var/lib/qdrant/storage#' \
  -e 's#^\(  snapshots_path:\) \./snapshots$#\1 /var/lib/qdrant/snapshots#' \
  "$file"
for want in '  storage_path: /var/lib/qdrant/storage' '  snapshots_path: /var/lib/qdrant/snapshots'; do
  if ! grep -qx "$want" "$file"; then
    echo "package-config.sh: $file has no line '$want' after rewriting" >&2
    exit 1
  fi
done
