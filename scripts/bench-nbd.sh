#!/usr/bin/env bash
# bench-nbd.sh: fio (ioengine=nbd) against tapdisk and the servers users
# would pick instead, side by side in one run, on one file, plus fio
# straight on the file (the limit). Prints IOPS, p50/p99 completion
# latency, each server's CPU time per request (utime+stime from
# /proc/PID/stat over the measured part of the run, divided by the
# requests fio completed in it) and tapdisk's ratio to each peer. Ratios
# and CPU per request, not absolute IOPS, are what carries from one
# (shared, noisy) machine to another. On the raw file, tapdisk's aio
# runs twice: on io_uring (its default) and on its syscall fallback
# (GOTAP_NO_IO_URING=1). Rows marked "16 2" run two fio jobs at QD16,
# each on its own connection (multi-conn), reported together.
#
#   BENCH_RUNTIME  seconds per run (default 5)
#   BENCH_REPEAT   runs per cell, the servers taking turns (default 3);
#                  each cell shows the run with the median IOPS
#   BENCH_SIZE     disk size (default 1G)
#   BENCH_DIR      where the images go (default /var/tmp: a real disk)
#   BENCH_CACHE    the modes, each table run in each (default: both):
#                  buffered (every server through the page cache) and
#                  direct (O_DIRECT everywhere: tapdisk's default,
#                  qemu-nbd --cache=none --aio=native, nbdkit cache=none)
#   BENCH_TABLES   which tables: "raw vhd" (default), "raw" or "vhd"
#   BENCH_TAPDISK  the tapdisk binary (default bin/tapdisk)
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=${BENCH_RUNTIME:-5}
repeat=${BENCH_REPEAT:-3}
size=${BENCH_SIZE:-1G}
caches=${BENCH_CACHE:-buffered direct}
tables=${BENCH_TABLES:-raw vhd}
for tool in fio qemu-nbd qemu-img nbdkit jq; do
	command -v "$tool" >/dev/null || { echo "bench-nbd: $tool is missing (apt-get install fio qemu-utils nbdkit jq)" >&2; exit 1; }
done
tapdisk=${BENCH_TAPDISK:-bin/tapdisk}
[ -x "$tapdisk" ] || { echo "bench-nbd: $tapdisk is missing: run make build first" >&2; exit 1; }

dir=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}" gotap-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

# use_cache MODE: every server's flags for the mode.
use_cache() {
	cache=$1
	case $cache in
	buffered) td_flags=(-D) qemu_flags=(--cache=writeback --aio=threads) kit_flags=() fio_direct=0 ;;
	direct) td_flags=() qemu_flags=(--cache=none --aio=native) kit_flags=(cache=none) fio_direct=1 ;;
	*) echo "bench-nbd: BENCH_CACHE takes buffered and direct" >&2; exit 2 ;;
	esac
}
for c in $caches; do use_cache "$c"; done # refuse a wrong mode before the work

echo "# preparing $size images in $dir ($caches I/O, $repeat runs of ${runtime}s per cell)" >&2
raw=$dir/disk.raw
fio --name=fill --filename="$raw" --rw=write --bs=1M --size="$size" --refill_buffers \
	--output=/dev/null
qemu-img create -q -f vpc -o subformat=dynamic "$dir/empty.vhd" "$size"
qemu-img convert -f raw -O vpc -o subformat=dynamic "$raw" "$dir/full.vhd"
# The page cache as every buffered cell finds it: holding the images
# (fio on the file keeps it so: --invalidate=0). fio drops a file's cache
# before each run by default, which left the next server a cold cache.
cat "$raw" "$dir/full.vhd" >/dev/null

# serve KIND FILE: starts a server on FILE, sets $uri.
serve() {
	local kind=$1 file=$2 sock=$dir/$1.sock
	rm -f "$sock"
	case $kind in
	tapdisk-aio | tapdisk-aio-syscalls | tapdisk-vhd | tapdisk-vhd-deferred)
		local type=${kind#tapdisk-} out=$dir/tapdisk.out extra=() env=()
		if [ "$type" = vhd-deferred ]; then type=vhd extra=(--defer-metadata); fi
		if [ "$type" = aio-syscalls ]; then type=aio env=(GOTAP_NO_IO_URING=1); fi
		mkdir -p "$dir/run"
		# Emptied here, not by the redirection below, which runs in the
		# child: the wait could read the last tapdisk's lines.
		: >"$out"
		env "${env[@]}" "$tapdisk" --run-dir "$dir/run" --log-level warn "${td_flags[@]}" "${extra[@]}" "$type:$file" >"$out" &
		pids+=($!)
		until [ "$(wc -l <"$out")" -ge 2 ]; do sleep 0.05; done
		uri=$(sed -n 2p "$out")
		return ;;
	qemu-nbd-raw | qemu-nbd-vpc)
		qemu-nbd -k "$sock" -f "${kind#qemu-nbd-}" --persistent --shared=8 "${qemu_flags[@]}" "$file" &
		pids+=($!) ;;
	nbdkit-file)
		nbdkit -f -U "$sock" file "$file" "${kit_flags[@]}" &
		pids+=($!) ;;
	esac
	until [ -S "$sock" ]; do sleep 0.05; done
	uri="nbd+unix:///?socket=$sock"
}

stop() {
	kill "${pids[-1]}"
	wait "${pids[-1]}" 2>/dev/null || true
	unset 'pids[-1]'
}

# cpu_ticks PID: the process's user and system time so far (clock ticks).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure PID RW BS QD JOBS TARGET...: one fio run (JOBS jobs, each its
# own connection to a server, reported as one) against the server PID (-
# for none); prints "iops p50_us p99_us cpu_us_per_request". The CPU is
# sampled when fio's ramp ends and after it exits, and divided by the
# requests fio counted in between.
measure() {
	local pid=$1 rw=$2 bs=$3 qd=$4 jobs=$5 ramp=1 json=$dir/fio.json; shift 5
	fio --name=cell --rw="$rw" --bs="$bs" --iodepth="$qd" --numjobs="$jobs" --group_reporting --size="$size" \
		--time_based --runtime="$runtime" --ramp_time="$ramp" --norandommap --randrepeat=0 \
		--output-format=json "$@" >"$json" &
	local fio=$! t0=0 t1=0
	if [ "$pid" != - ]; then sleep "$ramp"; t0=$(cpu_ticks "$pid"); fi
	wait "$fio"
	if [ "$pid" != - ]; then t1=$(cpu_ticks "$pid"); fi
	sed -n '/^{/,$p' "$json" | # the nbd engine prints a line before the JSON
		jq -r --argjson ticks "$((t1 - t0))" --argjson hz "$(getconf CLK_TCK)" --arg pid "$pid" \
			'.jobs[0] | (if .read.io_bytes > 0 then .read else .write end) |
			"\(.iops|floor) \(.clat_ns.percentile["50.000000"]/1000|floor) \(.clat_ns.percentile["99.000000"]/1000|floor) \(
			if $pid == "-" or .total_ios == 0 then "-" else ($ticks / $hz * 1e6 / .total_ios * 10 | round / 10) end)"'
}

# A row is RW BS QD, and JOBS where fio runs several jobs (multi-conn:
# a connection each, QD each).
rows=("randread 4k 1" "randread 4k 32" "randwrite 4k 1" "randwrite 4k 32" "randread 4k 16 2" "randwrite 4k 16 2" "read 1M 4" "write 1M 4")

# cell KIND FILE ROW: serves FILE with KIND (or fio on the file) and measures ROW.
cell() {
	local kind=$1 file=$2 rw bs qd jobs; read -r rw bs qd jobs <<<"$3"
	jobs=${jobs:-1}
	if [ "$kind" = fio-file ]; then
		measure - "$rw" "$bs" "$qd" "$jobs" --ioengine=io_uring --direct="$fio_direct" --invalidate=0 --filename="$file"
		return
	fi
	serve "$kind" "$file"
	measure "${pids[-1]}" "$rw" "$bs" "$qd" "$jobs" --ioengine=nbd --uri="$uri"
	stop
}

# median TAG RUN...: of the runs tagged TAG ("TAG iops p50 p99 cpu"), the
# one with the median IOPS, without its tag.
median() {
	local tag=$1; shift
	printf '%s\n' "$@" | awk -v t="$tag" '$1 == t { print $2, $3, $4, $5 }' | sort -n |
		awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }
fmt() { read -r iops p50 p99 _ <<<"$1"; printf '%s (%s/%s µs)' "$iops" "$p50" "$p99"; }
# cpus RUN...: the runs' CPU µs per request, "a / b / c".
cpus() {
	local r out=
	for r; do out+="${out:+ / }$(awk '{ print $4 }' <<<"$r")"; done
	echo "$out"
}

raw_table() {
	echo
	echo "## raw file, $cache I/O: IOPS (p50/p99 completion latency), CPU µs per request"
	echo
	echo "| workload | tapdisk aio | tapdisk aio, syscalls | qemu-nbd raw | nbdkit file | fio on the file | vs syscalls | vs qemu-nbd | vs nbdkit | vs the file | CPU µs/req: tapdisk / syscalls / qemu-nbd / nbdkit |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	for row in "${rows[@]}"; do
		runs=()
		for _ in $(seq "$repeat"); do
			runs+=("td $(cell tapdisk-aio "$raw" "$row")" "ts $(cell tapdisk-aio-syscalls "$raw" "$row")"
				"qn $(cell qemu-nbd-raw "$raw" "$row")" "nk $(cell nbdkit-file "$raw" "$row")" "ff $(cell fio-file "$raw" "$row")")
		done
		td=$(median td "${runs[@]}") ts=$(median ts "${runs[@]}") qn=$(median qn "${runs[@]}") nk=$(median nk "${runs[@]}") ff=$(median ff "${runs[@]}")
		echo "| $row | $(fmt "$td") | $(fmt "$ts") | $(fmt "$qn") | $(fmt "$nk") | $(fmt "$ff") | $(ratio "${td%% *}" "${ts%% *}") | $(ratio "${td%% *}" "${qn%% *}") | $(ratio "${td%% *}" "${nk%% *}") | $(ratio "${td%% *}" "${ff%% *}") | $(cpus "$td" "$ts" "$qn" "$nk") |"
	done
}

vhd_table() {
	echo
	echo "## dynamic VHD, $cache I/O (made by qemu-img; reads on a full image, writes on an empty one)"
	echo
	echo "tapdisk writes VHD metadata through (acknowledged writes survive kill -9);"
	echo "--defer-metadata keeps it for the next flush (README: Locks and durability)."
	echo "tapdisk ${td_flags[*]:-(O_DIRECT, io_uring)}, qemu-nbd -f vpc ${qemu_flags[*]}."
	echo
	echo "| workload | tapdisk vhd | tapdisk vhd --defer-metadata | qemu-nbd vpc | vs qemu-nbd | deferred vs qemu-nbd | CPU µs/req: tapdisk / deferred / qemu-nbd |"
	echo "|---|---|---|---|---|---|---|"
	for row in "${rows[@]}"; do
		file=$dir/full.vhd
		case $row in *write*) file=$dir/scratch.vhd ;; esac
		runs=()
		for _ in $(seq "$repeat"); do
			cp --sparse=always "$dir/empty.vhd" "$dir/scratch.vhd"
			runs+=("td $(cell tapdisk-vhd "$file" "$row")")
			cp --sparse=always "$dir/empty.vhd" "$dir/scratch.vhd"
			runs+=("tdd $(cell tapdisk-vhd-deferred "$file" "$row")")
			cp --sparse=always "$dir/empty.vhd" "$dir/scratch.vhd"
			runs+=("qn $(cell qemu-nbd-vpc "$file" "$row")")
		done
		td=$(median td "${runs[@]}") tdd=$(median tdd "${runs[@]}") qn=$(median qn "${runs[@]}")
		echo "| $row | $(fmt "$td") | $(fmt "$tdd") | $(fmt "$qn") | $(ratio "${td%% *}" "${qn%% *}") | $(ratio "${tdd%% *}" "${qn%% *}") | $(cpus "$td" "$tdd" "$qn") |"
	done
}

for c in $caches; do
	use_cache "$c"
	for t in $tables; do
		case $t in
		raw) raw_table ;;
		vhd) vhd_table ;;
		*) echo "bench-nbd: BENCH_TABLES takes raw and vhd" >&2; exit 2 ;;
		esac
	done
done
