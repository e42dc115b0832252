#!/usr/bin/env bash
# demo.sh shows vhd-util at work in a scratch folder: a dynamic base with
# data in it, a snapshot on top, and what query, scan, check and read say
# about them. Run by `make demo` after `make build`.
set -euo pipefail
bin=$(cd "$(dirname "$0")/../bin" && pwd)
PATH=$bin:$PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# run echoes a command, readably, before running it.
run() {
	printf '\n$ %s\n' "$*"
	"$@"
}

echo "# in $work"
run vhd-util create -n base.vhd -s 64
# vhd-util has no write command yet. QEMU writes a fresh dynamic VHD
# correctly; it must never write the snapshot (it cannot follow a chain).
run qemu-io -f vpc -c 'write -P 0xab 0 1M' base.vhd
run vhd-util snapshot -n snap1.vhd -p base.vhd
run vhd-util query -n base.vhd -v -s -p -d
run vhd-util query -n snap1.vhd -v -s -p -d
run vhd-util scan -p *.vhd
run vhd-util check -n snap1.vhd -p
run vhd-util read -n snap1.vhd -p
