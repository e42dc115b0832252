# bench.guest.sh RUNTIME RAMP REPEAT SIZE_MIB: the kernel frontends'
# benchmark in the guest (scripts/bench-guest.sh boots it, and parses and
# prints what it leaves). Four raw files alike in the guest's tmpfs
# (/tmp), served at once as /dev/ublkb0 (tapdisk aio:, --frontend ublk),
# /dev/nbd0 (tapdisk aio:, --frontend nbd), /dev/loop0 (losetup
# --direct-io: the kernel's own path) and /dev/nbd1 (qemu-nbd -c,
# O_DIRECT, native AIO): one file each, as tapdisk and qemu-nbd both take
# QEMU's image locks and a writer shares its image with no other writer;
# fio 4 KiB random reads and writes at QD1 and QD32 on each, the targets
# taking turns within each workload, REPEAT rounds. Leaves fio's JSON in
# /share/out/TARGET.WORKLOAD.ROUND.json.
. /guest/lib.sh

runtime=$1 ramp=$2 repeat=$3 size=$4

run modprobe ublk_drv
run modprobe nbd
run modprobe loop

step "four ${size} MiB raw files in tmpfs, written (no holes)"
# tmpfs holds half the RAM by default: room for the four, and the logs.
run mount -o remount,size=$((4 * size + 64))m /tmp
for t in ublk nbd loop qemu-nbd; do
	run dd if=/dev/zero of=/tmp/$t.raw bs=1M count="$size"
done

step "the four devices"
ublk=$(tap-ctl create --frontend ublk --log-file /tmp/tapdisk-ublk.log -a aio:/tmp/ublk.raw) || fail "ublk create exited $?"
[ "$ublk" = /dev/ublkb0 ] || fail "ublk create printed '$ublk'"
nbd=$(tap-ctl create --frontend nbd --log-file /tmp/tapdisk-nbd.log -a aio:/tmp/nbd.raw) || fail "nbd create exited $?"
[ "$nbd" = /dev/nbd0 ] || fail "nbd create printed '$nbd'"
# busybox's losetup has no --direct-io: the host's (util-linux) comes in
# with -x losetup, by its path, as busybox's sh prefers its own applets.
run /usr/local/sbin/losetup --direct-io=on /dev/loop0 /tmp/loop.raw
[ "$(cat /sys/block/loop0/loop/dio)" = 1 ] || fail "loop0 does not do direct I/O"
mkdir -p /var/lock # qemu-nbd -c's socket between its two processes
run qemu-nbd -c /dev/nbd1 -f raw --cache=none --aio=native /tmp/qemu-nbd.raw
for _ in $(seq 50); do
	[ "$(blockdev --getsize64 /dev/nbd1 2>/dev/null)" = $((size << 20)) ] && break
	sleep 0.2
done
for d in "$ublk" "$nbd" /dev/loop0 /dev/nbd1; do
	[ "$(blockdev --getsize64 "$d")" = $((size << 20)) ] || fail "$d is $(blockdev --getsize64 "$d") bytes"
done

mkdir -p /share/out
for round in $(seq "$repeat"); do
	for w in randread:1 randread:32 randwrite:1 randwrite:32; do
		for t in ublk:$ublk nbd:$nbd loop:/dev/loop0 qemu-nbd:/dev/nbd1; do
			step "round $round: ${w%:*} QD${w#*:} on ${t#*:} (${t%%:*})"
			run fio --name=bench --filename="${t#*:}" --direct=1 --ioengine=libaio --bs=4k \
				--rw="${w%:*}" --iodepth="${w#*:}" --time_based --runtime="$runtime" \
				--ramp_time="$ramp" --eta=never --output-format=json \
				--output="/share/out/${t%%:*}.${w%:*}-qd${w#*:}.$round.json"
		done
	done
done

step "teardown"
run qemu-nbd -d /dev/nbd1
run /usr/local/sbin/losetup -d /dev/loop0
for m in $(tap-ctl list | sed -n 's/.*minor=\([0-9]*\).*/\1/p'); do
	run tap-ctl destroy -m "$m"
done
grep -E 'level=(WARN|ERROR)' /tmp/tapdisk-*.log && fail "the tapdisks logged trouble"
dmesg | grep -iE 'i/o error|error, dev ' && fail "the kernel logged I/O errors"
exit 0
