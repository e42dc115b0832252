#!/usr/bin/env bash
# bench-guest.sh: the kernel block frontends side by side in one boot of
# the test guest (scripts/guest/boot.sh, guest/bench.guest.sh): fio 4 KiB
# random reads and writes at QD1 and QD32 (libaio, direct) on /dev/ublkb0
# and /dev/nbd0 (tapdisk aio:, O_DIRECT), a loop device with direct I/O
# (the kernel's own path: the limit) and qemu-nbd -c (O_DIRECT, native
# AIO: what users pick instead), each on its own raw file (both tapdisk
# and qemu-nbd take QEMU's image locks, which let no two writers share a
# file) in the guest's tmpfs: a file system in RAM, so what is measured
# is each frontend's own cost, not the emulated disk's, which would
# weigh the same on all four and press every ratio towards 1. Prints
# IOPS per target and workload (the run with the median IOPS of
# BENCH_REPEAT), QD1 p50 completion latency, and tapdisk's ratios to loop and qemu-nbd. The guest runs
# under TCG unless GOTAP_GUEST_KVM=1: absolute numbers mean nothing
# there, read the ratios only.
#
#   BENCH_RUNTIME  seconds per fio run, after BENCH_RAMP (default 3, 1)
#   BENCH_REPEAT   rounds, the targets taking turns (default 3)
#   BENCH_SIZE     each raw file, MiB (default 256)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runtime=${BENCH_RUNTIME:-3} ramp=${BENCH_RAMP:-1} repeat=${BENCH_REPEAT:-3} size=${BENCH_SIZE:-256}
for tool in fio qemu-nbd losetup jq; do
	command -v "$tool" >/dev/null || { echo "bench-guest: $tool is missing (apt-get install fio qemu-utils util-linux jq)" >&2; exit 1; }
done

share=$(mktemp -d "${TMPDIR:-/tmp}/gotap-bench-guest.XXXXXX")
trap 'rm -rf "$share"' EXIT
# The files in tmpfs, the guest's page cache and fio's buffers: room.
GOTAP_GUEST_MEM=${GOTAP_GUEST_MEM:-$((4 * size + 1024))} \
	"$root/scripts/guest/boot.sh" -s "$share" -x fio -x qemu-nbd -x losetup \
	"$root/scripts/guest/bench.guest.sh" "$runtime" "$ramp" "$repeat" "$size"

# cell TARGET WORKLOAD: "IOPS P50_US" of the round with the median IOPS.
cell() {
	local dir=${2%-qd*}
	dir=${dir#rand}
	for f in "$share/out/$1.$2".*.json; do
		jq -r --arg d "$dir" '.jobs[0][$d] | "\(.iops) \(.clat_ns.percentile["50.000000"] / 1000)"' "$f"
	done | sort -n | sed -n "$(((repeat + 1) / 2))p"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f×", a / b }'; }

accel=TCG
[ "${GOTAP_GUEST_KVM:-}" = 1 ] && accel=KVM
echo
echo "$(date -u +%F) $accel guest, 2 vCPUs, ${size} MiB raw file per target in tmpfs, fio libaio direct=1 bs=4k," \
	"${runtime} s + ${ramp} s ramp per run, median of $repeat rounds (IOPS; QD1: p50 completion latency)"
echo
echo "| workload | ublk | nbd | loop | qemu-nbd | ublk/loop | ublk/qemu-nbd | nbd/loop | nbd/qemu-nbd |"
echo "|---|---|---|---|---|---|---|---|---|"
for w in randread-qd1 randread-qd32 randwrite-qd1 randwrite-qd32; do
	row="| $w"
	declare -A iops=() p50=()
	for t in ublk nbd loop qemu-nbd; do
		read -r iops[$t] p50[$t] < <(cell $t $w)
		row="$row | $(printf '%.0f' "${iops[$t]}")"
		case $w in *-qd1) row="$row ($(printf '%.0f' "${p50[$t]}") µs)" ;; esac
	done
	for r in ublk/loop ublk/qemu-nbd nbd/loop nbd/qemu-nbd; do
		row="$row | $(ratio "${iops[${r%/*}]}" "${iops[${r#*/}]}")"
	done
	echo "$row |"
	case $w in *-qd1)
		lat="${lat:-}${w%-qd1} QD1 p50 latency: ublk/loop $(ratio "${p50[ublk]}" "${p50[loop]}"), nbd/loop $(ratio "${p50[nbd]}" "${p50[loop]}")"$'\n'
		;;
	esac
done
echo
printf '%s' "$lat"
echo "goals: ublk ≥ 0.8× loop and ≥ 2× qemu-nbd's IOPS; ublk's QD1 latency ≤ 1.2× loop's"
