#!/usr/bin/env bash
# judge.sh SHARE NAME: the host's verdict on what a frontend's guest test
# left in SHARE (the chain, leaf, sums: see scripts/guest/disk.sh): the
# chain is valid, its file system clean, and its files have the
# checksums the guest read back. qemu-img reads no differencing VHD, so
# the chain is read as one disk by vhd-util convert.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
share=$1 name=$2
leaf=$share/$(basename "$(cat "$share/leaf")")
(cd "$root" && go run ./vhd-util check -p -n "$leaf")
(cd "$root" && go run ./vhd-util convert "$leaf" -n "$share/disk.raw" -t raw)
e2fsck -fn "$share/disk.raw"
mkdir "$share/fs"
debugfs -R "rdump / $share/fs" "$share/disk.raw" 2>/dev/null
(cd "$share/fs" && sha256sum -c --quiet "$share/sums")
echo "$name: the chain is valid and its files match the guest's checksums"
