#!/usr/bin/env bash
# Every long flag that `qdrantd --help`, `qdctl --help` and `qdctl <command> --help` print must
# appear in the corresponding man page, so the pages cannot fall behind the binaries.
set -euo pipefail
qdrantd=$1 qdctl=$2 mandir=$3
status=0

check() {  # check <man page> <help text>
  local page=$1 help=$2 flag
  for flag in $(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u); do
    # roff escapes hyphens (\-\-config\-path): compare with the backslashes removed.
    # grep -q would exit at the first match and SIGPIPE tr, which pipefail reports as a miss.
    if ! tr -d '\\' <"$page" | grep -E -- "${flag}([^a-z0-9-]|$)" >/dev/null; then
      echo "$(basename "$page") does not document $flag" >&2
      status=1
    fi
  done
}

check "$mandir/qdrantd.8" "$("$qdrantd" --help)"
qdctl_help=$("$qdctl" --help)
all_help=$qdctl_help
for cmd in $(awk '/^Subcommands:/{on=1;next} on && NF{print $1}' <<<"$qdctl_help"); do
  all_help+=$'\n'$("$qdctl" "$cmd" --help 2>/dev/null || true)
done
check "$mandir/qdctl.1" "$all_help"
exit $status
