#!/usr/bin/env bash
# bench-nbd-backing.sh: the nbd: backing driver's cost. One nbdkit
# (memory plugin) serves a RAM disk on a Unix socket; fio (ioengine=nbd)
# runs against it twice per cell, the two taking turns: (a) straight on
# nbdkit's socket, (b) through a tapdisk serving nbd:unix:SOCKET. Prints
# IOPS, p50 completion latency, tapdisk's ratio to the direct run, and
# CPU time per request (utime+stime from /proc/PID/stat over the
# measured part of the run, divided by the requests fio completed) of
# fio, tapdisk and nbdkit in each run: on a machine of few cores, the
# three share them, and their sum bounds the IOPS.
#
#   BENCH_RUNTIME  seconds per run (default 4)
#   BENCH_REPEAT   runs per cell (default 3); each cell shows the run
#                  with the median IOPS
#   BENCH_SIZE     the RAM disk's size (default 1G)
#   BENCH_TAPDISK  the tapdisk binary (default bin/tapdisk)
set -euo pipefail
cd "$(dirname "$0")/.."

runtime=${BENCH_RUNTIME:-4}
repeat=${BENCH_REPEAT:-3}
size=${BENCH_SIZE:-1G}
for tool in fio nbdkit jq; do
	command -v "$tool" >/dev/null || { echo "bench-nbd-backing: $tool is missing (apt-get install fio nbdkit jq)" >&2; exit 1; }
done
tapdisk=${BENCH_TAPDISK:-bin/tapdisk}
[ -x "$tapdisk" ] || { echo "bench-nbd-backing: $tapdisk is missing: run make build first" >&2; exit 1; }

dir=$(mktemp -d -t gotap-bench-backing.XXXXXX)
pids=()
# tapdisk goes first: its nbd: disk says goodbye to a live nbdkit.
cleanup() {
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	rm -rf "$dir"
}
trap cleanup EXIT

sock=$dir/nbdkit.sock
nbdkit -f --unix "$sock" memory "$size" &
kit=$!
pids+=("$kit")
until [ -S "$sock" ]; do sleep 0.05; done
direct="nbd+unix:///?socket=$sock"
echo "# filling the $size RAM disk; $repeat runs of ${runtime}s per cell, $tapdisk" >&2
fio --name=fill --ioengine=nbd --uri="$direct" --rw=write --bs=1M --size="$size" \
	--refill_buffers --output=/dev/null

mkdir -p "$dir/run"
"$tapdisk" --run-dir "$dir/run" --log-level warn "nbd:unix:$sock" >"$dir/tapdisk.out" &
td=$!
pids+=("$td")
until [ "$(wc -l <"$dir/tapdisk.out")" -ge 2 ]; do sleep 0.05; done
through=$(sed -n 2p "$dir/tapdisk.out")

# cpu_ticks PID: the process's user and system time so far (clock ticks).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# measure URI RW QD: one fio run of 4 KiB requests; prints "iops p50_us
# fio_cpu_us tapdisk_cpu_us nbdkit_cpu_us" (CPU per request, sampled
# when fio's ramp ends and before it exits; fio runs its job as a thread,
# so that its process counts it). tapdisk's is counted whether or not
# the run goes through it, so that its idle cost shows.
measure() {
	local uri=$1 rw=$2 qd=$3 ramp=1 json=$dir/fio.json
	fio --name=cell --thread --ioengine=nbd --uri="$uri" --rw="$rw" --bs=4k --iodepth="$qd" \
		--size="$size" --time_based --runtime="$runtime" --ramp_time="$ramp" \
		--norandommap --randrepeat=0 --output-format=json >"$json" &
	local fio=$!
	sleep "$ramp"
	local f0 t0 k0 f1 t1 k1
	f0=$(cpu_ticks "$fio") t0=$(cpu_ticks "$td") k0=$(cpu_ticks "$kit")
	sleep "$runtime"
	f1=$(cpu_ticks "$fio" 2>/dev/null || echo "$f0") t1=$(cpu_ticks "$td") k1=$(cpu_ticks "$kit")
	wait "$fio"
	sed -n '/^{/,$p' "$json" | # the nbd engine prints a line before the JSON
		jq -r --argjson fio "$((f1 - f0))" --argjson td "$((t1 - t0))" --argjson kit "$((k1 - k0))" \
			--argjson hz "$(getconf CLK_TCK)" '
			.jobs[0] | (if .read.io_bytes > 0 then .read else .write end) |
			def per($t): if .total_ios == 0 then "-" else ($t / $hz * 1e6 / .total_ios * 10 | round / 10) end;
			"\(.iops|floor) \(.clat_ns.percentile["50.000000"]/1000|floor) \(per($fio)) \(per($td)) \(per($kit))"'
}

# median TAG RUN...: of the runs tagged TAG, the one with the median IOPS.
median() {
	local tag=$1; shift
	printf '%s\n' "$@" | awk -v t="$tag" '$1 == t { $1 = ""; print substr($0, 2) }' | sort -n |
		awk '{ r[NR] = $0 } END { print r[int((NR + 1) / 2)] }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else print "-" }'; }

echo
echo "## 4 KiB random I/O on nbdkit memory: fio straight on nbdkit vs through tapdisk nbd:"
echo
echo "| workload | direct IOPS (p50 µs) | tapdisk IOPS (p50 µs) | tapdisk / direct | CPU µs/req direct: fio / nbdkit | through tapdisk: fio / tapdisk / nbdkit |"
echo "|---|---|---|---|---|---|"
for row in "randread 1" "randread 32" "randwrite 1" "randwrite 32"; do
	read -r rw qd <<<"$row"
	runs=()
	for _ in $(seq "$repeat"); do
		runs+=("d $(measure "$direct" "$rw" "$qd")" "t $(measure "$through" "$rw" "$qd")")
	done
	read -r di dp df _ dk <<<"$(median d "${runs[@]}")"
	read -r ti tp tf tt tk <<<"$(median t "${runs[@]}")"
	echo "| $rw QD$qd | $di ($dp) | $ti ($tp) | $(ratio "$ti" "$di") | $df / $dk | $tf / $tt / $tk |"
done
