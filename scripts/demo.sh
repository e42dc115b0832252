#!/usr/bin/env bash
# demo.sh shows vhd-util at work in a scratch folder: a dynamic base with
# data in it, a snapshot on top, an empty image, and what query, scan,
# check and read say about them. Run by `make demo` after `make build`.
set -euo pipefail
bin=$(cd "$(dirname "$0")/../bin" && pwd)
PATH=$bin:$PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

# run echoes a command, quoting the arguments that need it, then runs it.
run() {
	local line='$' a
	for a in "$@"; do
		case $a in
		*[[:space:]\'\"\$*?]*) line+=" '$a'" ;;
		*) line+=" $a" ;;
		esac
	done
	printf '\n%s\n' "$line"
	"$@"
}

echo "# in $work"
# vhd-util has no write command yet, so QEMU makes the base and writes its
# data. It must be QEMU's own image: in one made by `vhd-util create`,
# QEMU 7.2 puts the first block over blktap's batmap (`vhd-util check`
# reports it), and it cannot follow a chain at all.
run qemu-img create -q -f vpc -o force_size=on base.vhd 64M
run qemu-io -f vpc -c 'write -P 0xab 0 1M' base.vhd
run vhd-util snapshot -n snap1.vhd -p base.vhd
run vhd-util create -n scratch.vhd -s 64
run vhd-util query -n base.vhd -v -s -p -d
run vhd-util query -n snap1.vhd -v -s -p -d
run vhd-util scan -p *.vhd
run vhd-util check -n snap1.vhd -p
run vhd-util read -n snap1.vhd -p
