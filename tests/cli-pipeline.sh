#!/bin/sh
# cli-pipeline.sh: the everyday pipeline, with the command-line tools only.
# Creates a raw, a dynamic VHD and a differencing VHD disk with vhd-util,
# truncate and `tap-ctl create`; finds each in `tap-ctl list` with awk;
# reads their stats with jq; destroys them all; and checks that nothing
# is left in the run directory or the process table.
#
# Needs tap-ctl, tapdisk, vhd-util and jq on PATH, and BLKTAP_RUN_DIR set
# to a run directory no one else uses. Exits 0 on success, 1 with a
# message otherwise. tap-ctl's Go tests run it (make test).
set -eu

fail() { echo "cli-pipeline: $*" >&2; exit 1; }

: "${BLKTAP_RUN_DIR:?set BLKTAP_RUN_DIR to a run directory of its own}"
for tool in tap-ctl tapdisk vhd-util jq awk; do
	command -v "$tool" >/dev/null || fail "$tool is not installed"
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
size=$((64 << 20))

truncate -s 64M "$work/raw.img"
vhd-util create -n "$work/dyn.vhd" -s 64
vhd-util create -n "$work/base.vhd" -s 64
vhd-util snapshot -n "$work/diff.vhd" -p "$work/base.vhd"

images="aio:$work/raw.img vhd:$work/dyn.vhd vhd:$work/diff.vhd"
for image in $images; do
	uri=$(tap-ctl create -a "$image")
	case $uri in
	nbd+unix:///\?socket=*) ;;
	*) fail "tap-ctl create -a $image printed '$uri', not an NBD URI" ;;
	esac
done

pids=
for image in $images; do
	# Not a terminal: one `pid=N minor=N state=0xN args=TYPE:PATH` per VBD.
	line=$(tap-ctl list | awk -v args="args=$image" '$4 == args')
	[ -n "$line" ] || fail "$image not in tap-ctl list"
	minor=$(echo "$line" | awk '{ sub("minor=", "", $2); print $2 }')
	pids="$pids $(echo "$line" | awk '{ sub("pid=", "", $1); print $1 }')"
	stats=$(tap-ctl stats -m "$minor")
	[ "$(echo "$stats" | jq -r .image)" = "$image" ] || fail "stats of minor $minor: image is not $image"
	[ "$(echo "$stats" | jq -r .state_name)" = running ] || fail "minor $minor is not running"
	[ "$(echo "$stats" | jq .size)" = "$size" ] || fail "minor $minor is not $size bytes"
	[ "$(echo "$stats" | jq .stats.errors)" = 0 ] || fail "minor $minor has errors"
done
[ "$(tap-ctl list --json | jq length)" = 3 ] || fail "tap-ctl list --json does not hold 3 rows"

for minor in $(tap-ctl list | awk '{ sub("minor=", "", $2); print $2 }'); do
	tap-ctl destroy -m "$minor"
done

[ -z "$(tap-ctl list)" ] || fail "tap-ctl list after destroy: $(tap-ctl list)"
left=$(find "$BLKTAP_RUN_DIR" ! -type d)
[ -z "$left" ] || fail "left in the run directory: $left"
for pid in $pids; do
	# A zombie is gone too: an init that does not reap keeps them.
	state=$(ps -o stat= -p "$pid" || true)
	case $state in "" | Z*) ;; *) fail "tapdisk $pid still running ($state)" ;; esac
done
echo "cli-pipeline: ok"
