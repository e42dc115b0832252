#!/usr/bin/env bash
# bench-coalesce.sh: vhd-util coalesce of a child holding 1 GiB, written
# as scattered 64 KiB writes over a 4 GiB disk or sequentially, into an
# empty parent; beside cp of 1 GiB on the same file system (the limit)
# and qemu-img commit of the same writes in a qcow2 overlay (what a user
# would pick instead). Every copy ends durable: cp is followed by
# sync FILE, coalesce and qemu-img commit sync themselves. A third limit
# is the same writes (same offsets and sizes) made by fio into a new
# sparse file, then an fsync: what the file system charges for the
# layout, which a VHD cannot avoid (a sector's place in its block is
# fixed), and cp does not pay. The sources are
# in the page cache (just written), as they are for cp. Prints the median
# of BENCH_REPEAT runs of each, as MiB/s of data held, and the ratios.
#
#   BENCH_REPEAT   runs per cell, the tools taking turns (default 3)
#   BENCH_HELD     data the child holds (default 1G)
#   BENCH_DIR      where the images go (default /var/tmp: a real disk)
set -euo pipefail
cd "$(dirname "$0")/.."

repeat=${BENCH_REPEAT:-3}
held=${BENCH_HELD:-1G}
for tool in fio qemu-img qemu-nbd; do
	command -v "$tool" >/dev/null || { echo "bench-coalesce: $tool is missing (apt-get install fio qemu-utils)" >&2; exit 1; }
done
[ -x bin/tapdisk ] && [ -x bin/vhd-util ] || { echo "bench-coalesce: run make build first" >&2; exit 1; }

dir=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}" gotap-coalesce.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

bytes=$(numfmt --from=iec "$held")
disk=$((4 * bytes))

# fill LAYOUT URI: writes the held bytes through NBD, the same offsets
# for every image (a fixed seed; fio's random map writes each 64 KiB
# once).
fill() {
	local rw=write bs=1M
	[ "$1" = scattered ] && rw=randwrite bs=64k
	fio --name=fill --ioengine=nbd --uri="$2" --rw="$rw" --bs="$bs" --iodepth=8 \
		--size="$disk" --io_size="$bytes" --randseed=42 --refill_buffers \
		--output=/dev/null >/dev/null
}

# prepare LAYOUT: child.vhd over the empty base.vhd.empty, and over.qcow2
# over base.qcow2.empty, holding the same writes.
prepare() {
	rm -f "$dir"/*.vhd* "$dir"/*.qcow2*
	bin/vhd-util create -n "$dir/base.vhd" -s "$((disk >> 20))"
	cp --sparse=always "$dir/base.vhd" "$dir/base.vhd.empty"
	bin/vhd-util snapshot -n "$dir/child.vhd" -p "$dir/base.vhd"
	mkdir -p "$dir/run"
	bin/tapdisk --run-dir "$dir/run" --log-level warn --defer-metadata "vhd:$dir/child.vhd" >"$dir/tapdisk.out" &
	pids+=($!)
	until [ "$(wc -l <"$dir/tapdisk.out")" -ge 2 ]; do sleep 0.05; done
	fill "$1" "$(sed -n 2p "$dir/tapdisk.out")"
	stop

	qemu-img create -q -f qcow2 "$dir/base.qcow2" "$disk"
	cp --sparse=always "$dir/base.qcow2" "$dir/base.qcow2.empty"
	qemu-img create -q -f qcow2 -b "$dir/base.qcow2" -F qcow2 "$dir/over.qcow2"
	qemu-nbd -k "$dir/qemu.sock" -f qcow2 --persistent --shared=8 --cache=writeback "$dir/over.qcow2" &
	pids+=($!)
	until [ -S "$dir/qemu.sock" ]; do sleep 0.05; done
	fill "$1" "nbd+unix:///?socket=$dir/qemu.sock"
	stop
}

stop() {
	kill "${pids[-1]}"
	wait "${pids[-1]}" 2>/dev/null || true
	unset 'pids[-1]'
}

# timed CMD...: runs CMD after a sync (nothing left to write back from
# before) and prints the seconds it took.
timed() {
	sync
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

run_coalesce() {
	cp --sparse=always "$dir/base.vhd.empty" "$dir/base.vhd"
	timed bin/vhd-util coalesce -n "$dir/child.vhd"
}
run_commit() {
	cp --sparse=always "$dir/base.qcow2.empty" "$dir/base.qcow2"
	timed qemu-img commit -q -d -f qcow2 "$dir/over.qcow2"
}
cp_sync() { rm -f "$dir/copy.raw"; cp "$dir/src.raw" "$dir/copy.raw"; sync "$dir/copy.raw"; }
run_cp() { timed cp_sync; }
# run_fio LAYOUT: the writes fill makes, into a new sparse file.
run_fio() {
	local rw=write bs=1M
	[ "$1" = scattered ] && rw=randwrite bs=64k
	rm -f "$dir/pattern.raw"
	timed fio --name=pattern --filename="$dir/pattern.raw" --rw="$rw" --bs="$bs" --size="$disk" \
		--io_size="$bytes" --randseed=42 --refill_buffers --fallocate=none --end_fsync=1 --output=/dev/null
}

median() { sort -n | awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }'; }
mibs() { awk -v s="$1" -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", b / a }'; }

echo "# $held held, $((disk >> 30)) GiB disk, in $dir; median of $repeat runs" >&2
fio --name=src --filename="$dir/src.raw" --rw=write --bs=1M --size="$bytes" --refill_buffers --output=/dev/null
echo
echo "| child's data ($held) | vhd-util coalesce | cp + sync | same writes by fio | qemu-img commit | coalesce / cp | coalesce / fio | coalesce / qemu-img |"
echo "|---|---|---|---|---|---|---|---|"
for layout in scattered sequential; do
	prepare "$layout"
	co=() cm=() cps=() fs=()
	for _ in $(seq "$repeat"); do
		co+=("$(run_coalesce)") cm+=("$(run_commit)") cps+=("$(run_cp)") fs+=("$(run_fio "$layout")")
	done
	c=$(printf '%s\n' "${co[@]}" | median) q=$(printf '%s\n' "${cm[@]}" | median)
	p=$(printf '%s\n' "${cps[@]}" | median) f=$(printf '%s\n' "${fs[@]}" | median)
	label="sequential"
	[ "$layout" = scattered ] && label="scattered 64 KiB writes"
	echo "| $label | $(mibs "$c") MiB/s (${c} s) | $(mibs "$p") MiB/s (${p} s) | $(mibs "$f") MiB/s (${f} s) | $(mibs "$q") MiB/s (${q} s) | $(ratio "$c" "$p") | $(ratio "$c" "$f") | $(ratio "$c" "$q") |"
done
