#!/usr/bin/env bash
# nbd.sh: the kernel NBD frontend (tap-ctl create --frontend nbd) in the
# guest (nbd.guest.sh), then on the host: the chain it left is valid
# (vhd-util check -p) and its file system is clean (e2fsck) and holds the
# files with the checksums the guest read back. KEEP=1 keeps the share.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
share=$(mktemp -d "${TMPDIR:-/tmp}/gotap-nbd.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$share"' EXIT
out=$("$root/scripts/guest/boot.sh" -s "$share" "$root/tests/guest/nbd.guest.sh")
echo "$out"
case $out in *"GUEST-RESULT: skip"*) exit 0 ;; esac
"$root/scripts/guest/judge.sh" "$share" nbd
