#!/usr/bin/env bash
# bench-live-coalesce.sh: how long a disk pauses when its chain changes
# under load. fio writes randomly over NBD to a served VHD while xmsnap
# takes snapshots and coalesces the chain back (each round: BENCH_DEPTH
# snapshots, then one coalesce of every layer into the base, then one
# coalesce --leaf --remove). Prints p50 and max of each kind of pause.
# Pause lengths depend on the requests in flight (a pause drains them)
# and on the closing of the chain, not on how much data was merged: the
# copy runs while the disk serves.
#
#   BENCH_ROUNDS  rounds (default 5)
#   BENCH_DEPTH   snapshots per round (default 10)
#   BENCH_SIZE    disk size in MB (default 1024)
#   BENCH_DIR     where the images go (default /var/tmp: a real disk)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${BENCH_ROUNDS:-5}
depth=${BENCH_DEPTH:-10}
size=${BENCH_SIZE:-1024}
for tool in fio jq; do
	command -v "$tool" >/dev/null || { echo "bench-live-coalesce: $tool is missing (apt-get install fio jq)" >&2; exit 1; }
done
[ -x bin/tapdisk ] || { echo "bench-live-coalesce: run make build first" >&2; exit 1; }

dir=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}" gotap-bench.XXXXXX)
export BLKTAP_RUN_DIR=$dir/run
mkdir -p "$BLKTAP_RUN_DIR"
fio_pid=
cleanup() {
	[ -z "$fio_pid" ] || kill "$fio_pid" 2>/dev/null || true
	bin/tap-ctl destroy -m 0 >/dev/null 2>&1 || true
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

bin/vhd-util create -n "$dir/disk.vhd" -s "$size"
uri=$(bin/tap-ctl create -a "vhd:$dir/disk.vhd")
fio --name=load --ioengine=nbd --uri="$uri" --rw=randwrite --bs=64k --iodepth=16 \
	--size="$((size / 2))M" --time_based --runtime=100000 --output=/dev/null &
fio_pid=$!
sleep 2

snaps=() relinks=() leaves=()
for r in $(seq "$rounds"); do
	for s in $(seq "$depth"); do
		snaps+=("$(bin/xmsnap --json 0 | jq .paused_ns)")
	done
	relinks+=("$(bin/xmsnap --json coalesce --remove 0 | jq '.pauses_ns[0]')")
	p=$(bin/xmsnap --json coalesce --leaf --remove 0 | jq -c .pauses_ns)
	snaps+=("$(jq '.[0]' <<<"$p")")
	leaves+=("$(jq '.[1]' <<<"$p")")
	echo "# round $r/$rounds done" >&2
done
kill -0 "$fio_pid" || { echo "bench-live-coalesce: fio stopped early" >&2; exit 1; }

# stat NAME NS...: p50 and max in milliseconds.
stat() {
	local name=$1
	shift
	printf '%s\n' "$@" | sort -n | awk -v name="$name" '{v[NR] = $1}
		END {printf "| %-38s | %5d | %8.1f | %8.1f |\n", name, NR, v[int((NR + 1) / 2)] / 1e6, v[NR] / 1e6}'
}
echo "Pauses under fio randwrite 64k QD16 ($size MB disk, $rounds rounds of $depth snapshots)"
echo "| pause                                  | count | p50 (ms) | max (ms) |"
echo "|----------------------------------------|-------|----------|----------|"
stat "snapshot (xmsnap)" "${snaps[@]}"
stat "relink after coalesce (every layer)" "${relinks[@]}"
stat "relink after coalesce --leaf" "${leaves[@]}"
