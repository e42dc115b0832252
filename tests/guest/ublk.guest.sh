# The ublk frontend in the guest (ublk.sh runs it): refusals that leave
# nothing behind, then /dev/ublkb0 under ext4 with a writer running
# through two snapshots, a live coalesce and a tapdisk killed (kill -9)
# and recovered, then the files' checksums read back through the device;
# last a read-only device. Leaves in /share: the chain, sums (sha256sum
# -c format, paths from the file system's root) and leaf (the chain's
# leaf) for the host to judge.
. /guest/lib.sh
. /guest/disk.sh

# nothing_left WHEN: no tapdisk, no minor, no ublk device.
nothing_left() {
	[ -z "$(tap-ctl list)" ] || fail "$1: tap-ctl list shows $(tap-ctl list)"
	pidof tapdisk >/dev/null && fail "$1: a tapdisk still runs"
	for d in /dev/ublkb* /dev/ublkc*; do
		[ -e "$d" ] && fail "$1: $d is left"
	done
	return 0
}

# stat NAME MINOR: a counter of tap-ctl stats.
stat() { tap-ctl stats -m "$2" | tr ',{' '\n\n' | sed -n "s/^ *\"$1\": *//p" | head -1; }

run vhd-util create -n disk.vhd -s 256
run vhd-util create -n other.vhd -s 16

step "refused: a kernel without ublk_drv"
refused "modprobe ublk_drv" tap-ctl create --frontend ublk -a vhd:/share/disk.vhd
nothing_left "after the missing module"
run modprobe ublk_drv

step "refused: an image that fails to open"
refused "missing.vhd" tap-ctl create --frontend ublk -a vhd:/share/missing.vhd
nothing_left "after the failed open"

step "create"
dev=$(tap-ctl create --frontend ublk --log-file /tmp/tapdisk1.log -a vhd:/share/disk.vhd) || fail "create exited $?"
[ "$dev" = /dev/ublkb0 ] || fail "create printed '$dev'; want /dev/ublkb0"
[ -b /dev/ublkb0 ] || fail "no block device /dev/ublkb0"
minor=$(field minor)
tap-ctl list | grep -q /dev/ublkb0 || fail "list does not name /dev/ublkb0: $(tap-ctl list)"
tap-ctl stats -m "$minor" | grep -q '"device": *"/dev/ublkb0"' || fail "stats do not name /dev/ublkb0: $(tap-ctl stats -m "$minor")"
[ "$(blockdev --getsize64 "$dev")" = $((256 << 20)) ] || fail "size $(blockdev --getsize64 "$dev")"
q=/sys/block/ublkb0/queue
[ "$(cat $q/logical_block_size)/$(cat $q/physical_block_size)" = 512/4096 ] ||
	fail "block sizes $(cat $q/logical_block_size)/$(cat $q/physical_block_size); want 512/4096"
queues=$(ls /sys/block/ublkb0/mq | wc -l)
[ "$queues" = "$(nproc)" ] || fail "$queues queues for $(nproc) CPUs"
[ "$(cat $q/fua)" = 1 ] || fail "no FUA"

step "refused: a busy device"
refused "in use" tap-ctl create --frontend ublk --device /dev/ublkb0 -a vhd:/share/other.vhd
[ "$(tap-ctl list | wc -l)" = 1 ] || fail "after the busy device: $(tap-ctl list)"
[ -e /dev/ublkb1 ] && fail "the busy device's attempt left /dev/ublkb1"

step "fio: random 4 KiB writes at QD32 from two jobs (both queues), verified; 1 MiB writes, verified"
run fio --name=qd32 --filename="$dev" --direct=1 --rw=randwrite --bs=4k --iodepth=32 --ioengine=libaio \
	--size=32M --offset_increment=32M --numjobs=2 --verify=crc32c --eta=never --output=/dev/null
run fio --name=big --filename="$dev" --direct=1 --rw=write --bs=1M --iodepth=8 --ioengine=libaio \
	--size=64M --verify=md5 --eta=never --output=/dev/null
[ "$(stat errors "$minor")" = 0 ] || fail "fio's requests failed: $(tap-ctl stats -m "$minor")"

step "mkfs.ext4 (write-zeroes, flushes), a tree of files"
fill_tree "$dev"
[ "$(stat write_zeroes "$minor")" -gt 0 ] && [ "$(stat flushes "$minor")" -gt 0 ] ||
	fail "mkfs.ext4 zeroed or flushed nothing: $(tap-ctl stats -m "$minor")"

start_writer

snapshots_and_coalesce "$minor"

step "refused: recovering a device its tapdisk still serves"
refused "in use by another process" tap-ctl create --frontend ublk --device /dev/ublkb0 --recover -a "vhd:$leaf"
[ "$(tap-ctl list | wc -l)" = 1 ] || fail "after the refused recovery: $(tap-ctl list)"

step "kill -9 of the tapdisk under the writer, recovered on /dev/ublkb0"
pid=$(field pid)
sleep 1
kill -9 "$pid"
sleep 2
[ -b /dev/ublkb0 ] || fail "/dev/ublkb0 went with its tapdisk"
kill -0 $wpid 2>/dev/null || fail "the writer ended while the device waited"
refused "recover /dev/ublkb1" tap-ctl create --frontend ublk --device /dev/ublkb1 --recover -a "vhd:$leaf"
rdev=$(tap-ctl create --frontend ublk --device /dev/ublkb0 --recover --log-file /tmp/tapdisk2.log -a "vhd:$leaf") ||
	fail "recover exited $?"
[ "$rdev" = /dev/ublkb0 ] || fail "recover printed '$rdev'; want /dev/ublkb0"
sleep 3
n=$(ls /mnt/fs/w | wc -l)
sleep 3
[ "$(ls /mnt/fs/w | wc -l)" -gt "$n" ] || fail "the writer makes no progress after the recovery"
stop_writer
dmesg | grep -iE 'i/o error|error, dev ' && fail "the kernel logged I/O errors"
grep -q 'block device.*recovered=true' /tmp/tapdisk2.log || fail "the recovery's log: $(cat /tmp/tapdisk2.log)"
grep -E 'level=(WARN|ERROR)' /tmp/tapdisk1.log /tmp/tapdisk2.log && fail "the tapdisks logged trouble"

check_sums "$dev"

destroy_all "$minor"
nothing_left "after destroy"

read_only_device ublk /dev/ublkb0 "$leaf"
nothing_left "after SIGTERM"
echo "$leaf" >/share/leaf
