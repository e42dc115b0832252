# The kernel NBD frontend in the guest (nbd.sh runs it): refusals that
# leave nothing behind, then /dev/nbd0 under ext4 with a writer running
# through two snapshots, a live coalesce and a tapdisk killed and
# recovered, then the files' checksums read back through the device.
# Leaves in /share: the chain, sums (sha256sum -c format, paths from the
# file system's root) and leaf (the chain's leaf) for the host to judge.
. /guest/lib.sh
. /guest/disk.sh

# nothing_left WHEN: no tapdisk, no minor, no NBD device connected.
nothing_left() {
	[ -z "$(tap-ctl list)" ] || fail "$1: tap-ctl list shows $(tap-ctl list)"
	pidof tapdisk >/dev/null && fail "$1: a tapdisk still runs"
	for p in /sys/block/nbd*/pid; do
		[ -e "$p" ] && fail "$1: $(dirname "$p") is still connected"
	done
	return 0
}

run vhd-util create -n disk.vhd -s 256
run vhd-util create -n other.vhd -s 16

step "refused: a kernel without nbd.ko"
# The kernel loads nbd.ko itself when asked for its netlink family:
# without a modprobe to call, it is a kernel that lacks it.
modprobe=$(cat /proc/sys/kernel/modprobe)
echo /bin/false >/proc/sys/kernel/modprobe
refused "modprobe nbd" tap-ctl create --frontend nbd -a vhd:/share/disk.vhd
nothing_left "after the missing module"
echo "$modprobe" >/proc/sys/kernel/modprobe
run modprobe nbd

step "refused: an image that fails to open"
refused "missing.vhd" tap-ctl create --frontend nbd -a vhd:/share/missing.vhd
nothing_left "after the failed open"

step "create"
dev=$(tap-ctl create --frontend nbd -t 20 -a vhd:/share/disk.vhd) || fail "create exited $?"
[ "$dev" = /dev/nbd0 ] || fail "create printed '$dev'; want /dev/nbd0"
minor=$(field minor)
tap-ctl stats -m "$minor" | grep -q '"device": *"/dev/nbd0"' || fail "stats do not name /dev/nbd0: $(tap-ctl stats -m "$minor")"

step "refused: a busy device"
refused "in use" tap-ctl create --frontend nbd --device /dev/nbd0 -a vhd:/share/other.vhd
[ "$(tap-ctl list | wc -l)" = 1 ] || fail "after the busy device: $(tap-ctl list)"

step "mkfs.ext4, a tree of files"
fill_tree "$dev"

start_writer

snapshots_and_coalesce "$minor"

step "refused: recovering a device its tapdisk still serves"
refused "in use by another process" tap-ctl create --frontend nbd --device /dev/nbd0 --recover -t 20 -a "vhd:$leaf"
[ "$(tap-ctl list | wc -l)" = 1 ] || fail "after the refused recovery: $(tap-ctl list)"

step "kill -9 of the tapdisk under the writer, recovered on /dev/nbd0"
pid=$(field pid)
sleep 1
kill -9 "$pid"
sleep 2
refused "recover /dev/nbd1: not attached" \
	tap-ctl create --frontend nbd --device /dev/nbd1 --recover -t 20 -a "vhd:$leaf"
rdev=$(tap-ctl create --frontend nbd --device /dev/nbd0 --recover -t 20 -a "vhd:$leaf") ||
	fail "recover exited $?"
[ "$rdev" = /dev/nbd0 ] || fail "recover printed '$rdev'; want /dev/nbd0"
sleep 5
stop_writer
dmesg | grep -i 'i/o error' && fail "the kernel logged I/O errors"

check_sums "$dev"

destroy_all "$minor"
nothing_left "after destroy"

read_only_device nbd /dev/nbd0 "$leaf"
nothing_left "after SIGTERM"
echo "$leaf" >/share/leaf
