#!/usr/bin/env bash
# smoke.sh: the guest harness boots, runs a script, and hands its share
# back (scripts/guest/boot.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
share=$(mktemp -d "${TMPDIR:-/tmp}/gotap-smoke.XXXXXX")
trap 'rm -rf "$share"' EXIT
echo "from the host" >"$share/in.txt"
out=$("$root/scripts/guest/boot.sh" -s "$share" "$root/tests/guest/smoke.guest.sh")
echo "$out"
case $out in *"GUEST-RESULT: skip"*) exit 0 ;; esac
[ -s "$share/out.vhd" ] || { echo "smoke: the guest's out.vhd did not come back" >&2; exit 1; }
(cd "$root" && go run ./vhd-util check -n "$share/out.vhd")
