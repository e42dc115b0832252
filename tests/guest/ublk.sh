#!/usr/bin/env bash
# ublk.sh: the ublk frontend (tap-ctl create --frontend ublk) in the
# guest (ublk.guest.sh, with fio), then on the host: the chain it left is
# valid (vhd-util check -p) and its file system is clean (e2fsck) and
# holds the files with the checksums the guest read back. KEEP=1 keeps
# the share.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
share=$(mktemp -d "${TMPDIR:-/tmp}/gotap-ublk.XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$share"' EXIT
out=$("$root/scripts/guest/boot.sh" -x fio -s "$share" "$root/tests/guest/ublk.guest.sh")
echo "$out"
case $out in *"GUEST-RESULT: skip"*) exit 0 ;; esac
leaf=$share/$(basename "$(cat "$share/leaf")")
(cd "$root" && go run ./vhd-util check -p -n "$leaf")
# The chain read as one disk (qemu-img reads no differencing VHD), its
# file system judged by e2fsck, its files by their checksums.
(cd "$root" && go run ./vhd-util convert "$leaf" -n "$share/disk.raw" -t raw)
e2fsck -fn "$share/disk.raw"
mkdir "$share/fs"
debugfs -R "rdump / $share/fs" "$share/disk.raw" 2>/dev/null
(cd "$share/fs" && sha256sum -c --quiet "$share/sums")
echo "ublk: the chain is valid and its files match the guest's checksums"
