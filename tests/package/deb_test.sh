#!/usr/bin/env bash
# The Debian packages, tested (label `package`; see tests/CMakeLists.txt):
#   deb_test.sh build    DEBDIR SRCDIR   build the .deb files into DEBDIR (the ctest fixture)
#   deb_test.sh contents DEBDIR          files, conffiles, relations, maintainer scripts, unit
#   deb_test.sh lintian  DEBDIR          lintian with warnings as failures
#   deb_test.sh install  DEBDIR          install both into a throw-away root with dpkg --root,
#                                        then start the packaged qdrantd the way the packaged
#                                        unit does, with the packaged config, on free ports
# Every check that fails prints what it expected; the script exits non-zero on the first.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }

debs() {  # debs DEBDIR -> sets qdrantd_deb, qdctl_deb
  local dir=$1
  qdrantd_deb=$(find "$dir" -maxdepth 1 -name 'qdrantd_*.deb' | head -1)
  qdctl_deb=$(find "$dir" -maxdepth 1 -name 'qdctl_*.deb' | head -1)
  [ -f "$qdrantd_deb" ] || fail "no qdrantd_*.deb in $dir (did package_deb_build run?)"
  [ -f "$qdctl_deb" ] || fail "no qdctl_*.deb in $dir"
}

# has_line TEXT LINE WHAT: TEXT contains LINE exactly.
has_line() { grep -qxF -- "$2" <<<"$1" || fail "$3: no line '$2'"; }

cmd_build() {
  local dir=$1 src=$2
  # The unit tests run in the suite itself; the package build does not build them again.
  DEB_BUILD_OPTIONS="nocheck parallel=${QD_PACKAGE_JOBS:-2}" bash "$src/packaging/build-deb.sh" "$dir"
}

cmd_contents() {
  debs "$1"
  local files
  files=$(dpkg-deb --fsys-tarfile "$qdrantd_deb" | tar -t | sed 's#^\./#/#')
  for f in /usr/bin/qdrantd /etc/qdrant/config.yaml /etc/default/qdrantd \
           /lib/systemd/system/qdrantd.service \
           /usr/share/man/man8/qdrantd.8.gz /usr/share/man/man5/qdrantd.yaml.5.gz \
           /usr/share/doc/qdrantd/copyright; do
    has_line "$files" "$f" "qdrantd.deb"
  done
  if grep -q '^/usr/bin/qdctl$' <<<"$files"; then fail "qdrantd.deb ships qdctl"; fi
  pass "qdrantd.deb holds the daemon, config, defaults, unit, man pages"

  files=$(dpkg-deb --fsys-tarfile "$qdctl_deb" | tar -t | sed 's#^\./#/#')
  for f in /usr/bin/qdctl /usr/share/man/man1/qdctl.1.gz \
           /usr/share/bash-completion/completions/qdctl /usr/share/zsh/vendor-completions/_qdctl; do
    has_line "$files" "$f" "qdctl.deb"
  done
  if grep -q '^/usr/bin/qdrantd$' <<<"$files"; then fail "qdctl.deb ships qdrantd"; fi
  pass "qdctl.deb holds the CLI, its man page and completions"

  # Separately installable: neither depends on the other.
  local depends
  for deb in "$qdrantd_deb" "$qdctl_deb"; do
    depends=$(dpkg-deb -f "$deb" Depends)
    if grep -Eq '(^|[ ,])(qdrantd|qdctl)([ ,(]|$)' <<<"$depends"; then
      fail "$(basename "$deb") depends on the other package: $depends"
    fi
  done
  pass "the two packages do not depend on each other"

  local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  dpkg-deb -e "$qdrantd_deb" "$tmp/ctl"
  has_line "$(cat "$tmp/ctl/conffiles")" /etc/qdrant/config.yaml "conffiles"
  has_line "$(cat "$tmp/ctl/conffiles")" /etc/default/qdrantd "conffiles"
  grep -q 'adduser --system --group' "$tmp/ctl/postinst" || fail "postinst does not create the qdrant system user"
  grep -q 'rm -rf /var/lib/qdrant' "$tmp/ctl/postrm" || fail "postrm does not remove the data on purge"
  # The data goes on purge only, never on remove or upgrade.
  awk '/rm -rf \/var\/lib\/qdrant/ && !seen {exit !inpurge} /"\$1" = "purge"/ {inpurge=1}' "$tmp/ctl/postrm" \
    || fail "postrm removes /var/lib/qdrant outside its purge branch"
  grep -q 'deb-systemd-helper' "$tmp/ctl/postinst" || fail "postinst does not enable the unit"
  pass "conffiles, system user, purge-only data removal, unit enabled"

  dpkg-deb -x "$qdrantd_deb" "$tmp/root"
  local unit="$tmp/root/lib/systemd/system/qdrantd.service" config="$tmp/root/etc/qdrant/config.yaml"
  # shellcheck disable=SC2016  # $QDRANTD_OPTS is literal in the unit
  for line in Type=notify User=qdrant 'ExecStart=/usr/bin/qdrantd --config-path /etc/qdrant/config.yaml $QDRANTD_OPTS' \
              EnvironmentFile=-/etc/default/qdrantd ProtectSystem=strict NoNewPrivileges=yes \
              'Documentation=man:qdrantd(8) man:qdctl(1) man:qdrantd.yaml(5)'; do
    has_line "$(cat "$unit")" "$line" "qdrantd.service"
  done
  has_line "$(cat "$config")" '  storage_path: /var/lib/qdrant/storage' "config.yaml"
  has_line "$(cat "$config")" '  snapshots_path: /var/lib/qdrant/snapshots' "config.yaml"
  # Offline: the unit parses (man pages are checked above, not through man-db) and its sandbox
  # keeps systemd's exposure score low (0 = locked down, 10 = unprotected). The targets it
  # depends on come from this system's units, copied beside it (ours is not overwritten).
  cp -an /lib/systemd/system/. "$tmp/root/lib/systemd/system/"
  systemd-analyze verify --man=no --root="$tmp/root" /lib/systemd/system/qdrantd.service \
    || fail "systemd-analyze verify rejects the unit"
  systemd-analyze security --offline=true --threshold=20 --root="$tmp/root" \
    /lib/systemd/system/qdrantd.service >"$tmp/security" \
    || { cat "$tmp/security"; fail "systemd-analyze security: exposure above 2.0"; }
  pass "unit verified; $(grep -o 'Overall exposure level.*' "$tmp/security")"

  # The binaries are hardened (dpkg-buildflags hardening=+all). readelf's output is read whole
  # first: `readelf | grep -q` fails under pipefail when grep stops reading early (SIGPIPE).
  local header
  header=$(readelf -hdlW --dyn-syms "$tmp/root/usr/bin/qdrantd")
  grep -q 'Type:.*DYN' <<<"$header" || fail "qdrantd is not position-independent"
  grep -q 'BIND_NOW' <<<"$header" || fail "qdrantd is not linked with -z now"
  grep -q 'GNU_RELRO' <<<"$header" || fail "qdrantd has no RELRO"
  grep -q '__stack_chk_fail' <<<"$header" || fail "qdrantd is built without the stack protector"
  grep -q '__[a-z]*_chk@' <<<"$header" || fail "qdrantd is built without _FORTIFY_SOURCE"
  pass "qdrantd is PIE, full RELRO, stack-protected"
}

cmd_lintian() {
  debs "$1"
  # --fail-on warning: a warning fails the test; overrides live in debian/*.lintian-overrides,
  # each with its reason.
  lintian --fail-on error,warning --display-info "$qdrantd_deb" "$qdctl_deb"
  pass "lintian clean"
}

# systemd's EnvironmentFile= format for the lines we ship: KEY=VALUE, # comments, blank lines.
load_environment_file() {
  local line
  while IFS= read -r line; do
    case "$line" in ''|'#'*) continue ;; esac
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || fail "environment file line not KEY=VALUE: $line"
    export "${line?}"
  done <"$1"
}

free_port() {
  perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'
}

cmd_install() {
  debs "$1"
  # Globals, not locals: the EXIT trap runs after this function has returned.
  root=$(mktemp -d)
  pid=""
  cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$root"
  }
  trap cleanup EXIT
  # As root dpkg gives files their owners; otherwise fakeroot lets it believe it did.
  local dpkg=(dpkg)
  if [ "$(id -u)" -ne 0 ]; then dpkg=(fakeroot dpkg); fi

  # An empty dpkg database: dpkg really installs (files, conffiles, status), but the maintainer
  # scripts are not run: they would run chrooted in a root that has no shell. --force-depends:
  # the libraries are the host's, not the throw-away root's.
  mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
  touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
  "${dpkg[@]}" --root="$root" --force-depends --force-script-chrootless --no-triggers --unpack \
    "$qdctl_deb" "$qdrantd_deb" >"$root/dpkg.log" 2>&1 || { cat "$root/dpkg.log"; fail "dpkg --unpack"; }
  local status
  status=$(dpkg --root="$root" -s qdrantd)
  grep -q '^Status: install ok unpacked$' <<<"$status" || fail "dpkg status of qdrantd: $status"
  # Unpacked, not configured: dpkg records the conffiles and hashes them at configure time.
  for conffile in /etc/qdrant/config.yaml /etc/default/qdrantd; do
    grep -q "^ $conffile newconffile$" <<<"$status" || fail "$conffile not registered as a conffile: $status"
  done
  status=$(dpkg --root="$root" -s qdctl)
  grep -q '^Status: install ok unpacked$' <<<"$status" || fail "qdctl not unpacked: $status"
  # What `dpkg --configure` does for a new conffile (dpkg unpacked it as .dpkg-new); the
  # maintainer scripts stay unrun.
  for conffile in /etc/qdrant/config.yaml /etc/default/qdrantd; do
    [ -f "$root$conffile.dpkg-new" ] || fail "dpkg did not unpack $conffile"
    mv "$root$conffile.dpkg-new" "$root$conffile"
  done
  pass "both packages unpacked into $root by dpkg"

  # The daemon's shared libraries all resolve on this system.
  local libs; libs=$(ldd "$root/usr/bin/qdrantd")
  if grep -q 'not found' <<<"$libs"; then fail "unresolved libraries: $libs"; fi

  # Start it as the unit does: its ExecStart (paths moved into the root), its environment file,
  # its working directory. The packaged config keeps /var/lib/qdrant/...; only the storage paths
  # are moved into the root (and the ports onto free ones) through QDRANT__ variables.
  local unit="$root/lib/systemd/system/qdrantd.service" exec workdir
  exec=$(sed -n 's/^ExecStart=//p' "$unit")
  workdir=$(sed -n 's/^WorkingDirectory=//p' "$unit")
  if [ -z "$exec" ] || [ -z "$workdir" ]; then fail "unit has no ExecStart or WorkingDirectory"; fi
  load_environment_file "$root/etc/default/qdrantd"
  exec=${exec//\/usr\/bin\//$root/usr/bin/}
  exec=${exec//\/etc\/qdrant\//$root/etc/qdrant/}
  exec=${exec//\$QDRANTD_OPTS/$QDRANTD_OPTS}
  mkdir -p "$root$workdir"
  local http grpc
  http=$(free_port); grpc=$(free_port)
  export QDRANT__SERVICE__HOST=127.0.0.1 QDRANT__SERVICE__HTTP_PORT=$http QDRANT__SERVICE__GRPC_PORT=$grpc
  export QDRANT__STORAGE__STORAGE_PATH=$root/var/lib/qdrant/storage
  export QDRANT__STORAGE__SNAPSHOTS_PATH=$root/var/lib/qdrant/snapshots
  unset RUN_MODE QDRANT_URI QDRANT_BOOTSTRAP
  echo "starting: $exec (in $root$workdir, REST $http, gRPC $grpc)"
  # shellcheck disable=SC2086  # ExecStart is split on blanks, as systemd does
  (cd "$root$workdir" && exec $exec) >"$root/qdrantd.log" 2>&1 &
  pid=$!

  local deadline=$((SECONDS + 30)) body=""
  while [ $SECONDS -lt $deadline ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$root/qdrantd.log"; fail "qdrantd exited during start"; }
    body=$(curl -sf --max-time 2 "http://127.0.0.1:$http/healthz" || true)
    [ -n "$body" ] && break
    sleep 0.2
  done
  [ "$body" = "healthz check passed" ] || { cat "$root/qdrantd.log"; fail "/healthz did not answer in 30 s (got '$body')"; }
  grep -qF "loaded configuration from $root/etc/qdrant/config.yaml" "$root/qdrantd.log" \
    || { cat "$root/qdrantd.log"; fail "qdrantd did not load the packaged config"; }
  [ -d "$root/var/lib/qdrant/storage" ] || fail "no storage created under the packaged path"
  pass "packaged qdrantd answers /healthz with the packaged config"

  # The packaged qdctl talks to it over gRPC.
  "$root/usr/bin/qdctl" --url "http://127.0.0.1:$grpc" --timeout 10 health \
    || fail "packaged qdctl health against the packaged qdrantd"
  curl -sf --max-time 5 -X PUT "http://127.0.0.1:$http/collections/pkg" \
    -H 'Content-Type: application/json' -d '{"vectors":{"size":4,"distance":"Cosine"}}' >/dev/null \
    || fail "create a collection"
  [ -d "$root/var/lib/qdrant/storage/collections/pkg" ] || fail "the collection is not under the packaged storage path"
  pass "packaged qdctl works; a collection lands in /var/lib/qdrant/storage"

  local metrics
  metrics=$(curl -sf --max-time 5 "http://127.0.0.1:$http/metrics") || fail "GET /metrics"
  grep -q '^app_info{name="qdrant",version="[0-9.]*"} 1$' <<<"$metrics" || fail "/metrics has no app_info: $metrics"
  grep -q '^collections_total 1$' <<<"$metrics" || fail "/metrics does not count the collection"
  pass "/metrics answers"

  kill -TERM "$pid"
  deadline=$((SECONDS + 15))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && fail "qdrantd still running 15 s after SIGTERM (TimeoutStopSec=15)"
  local rc=0; wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq 0 ] || { cat "$root/qdrantd.log"; fail "qdrantd exited $rc after SIGTERM"; }
  pass "SIGTERM stops it with status 0"
}

case "${1:-}" in
  build) cmd_build "$2" "$3" ;;
  contents) cmd_contents "$2" ;;
  lintian) cmd_lintian "$2" ;;
  install) cmd_install "$2" ;;
  *) echo "usage: $0 build|contents|lintian|install DEBDIR [SRCDIR]" >&2; exit 2 ;;
esac
