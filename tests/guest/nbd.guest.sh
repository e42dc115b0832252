# The kernel NBD frontend in the guest (nbd.sh runs it): refusals that
# leave nothing behind, then /dev/nbd0 under ext4 with a writer running
# through two snapshots, a live coalesce and a tapdisk killed and
# recovered, then the files' checksums read back through the device.
# Leaves in /share: the chain, sums (sha256sum -c format, paths from the
# file system's root) and leaf (the chain's leaf) for the host to judge.
. /guest/lib.sh

# nothing_left WHEN: no tapdisk, no minor, no NBD device connected.
nothing_left() {
	[ -z "$(tap-ctl list)" ] || fail "$1: tap-ctl list shows $(tap-ctl list)"
	pidof tapdisk >/dev/null && fail "$1: a tapdisk still runs"
	for p in /sys/block/nbd*/pid; do
		[ -e "$p" ] && fail "$1: $(dirname "$p") is still connected"
	done
	return 0
}

# field NAME: NAME's value in tap-ctl list's only line.
field() { tap-ctl list | sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }

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
run mkfs.ext4 -q -F "$dev"
mkdir -p /mnt/fs
run mount -t ext4 "$dev" /mnt/fs
for i in $(seq 1 60); do
	mkdir -p /mnt/fs/tree/d$((i % 6))
	dd if=/dev/urandom of=/mnt/fs/tree/d$((i % 6))/f$i bs=4k count=$((i % 17 + 1)) 2>/dev/null ||
		fail "writing tree/f$i"
done

# The writer: files written and fsynced one after the other until
# /tmp/stop exists; any error (EIO) ends it with a failure.
writer() {
	mkdir -p /mnt/fs/w
	i=0
	while [ ! -e /tmp/stop ]; do
		i=$((i + 1))
		dd if=/dev/urandom of=/mnt/fs/w/f$i bs=16k count=$((i % 8 + 1)) conv=fsync 2>/tmp/writer.err ||
			{ echo "writer: f$i: $(cat /tmp/writer.err)"; exit 1; }
	done
	echo "writer: $i files"
}
writer &
wpid=$!

step "two snapshots and a live coalesce under the writer"
sleep 2
run xmsnap snapshot "$minor"
sleep 2
run xmsnap snapshot "$minor"
sleep 2
run xmsnap coalesce "$minor"
leaf=$(field args | sed 's/^vhd://')
echo "leaf: $leaf"

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
touch /tmp/stop
wait $wpid || fail "the writer failed across the restart"
dmesg | grep -i 'i/o error' && fail "the kernel logged I/O errors"

step "checksums through the device"
(cd /mnt/fs && find . -type f ! -name sums | sort | xargs sha256sum) >/share/sums
run umount /mnt/fs
echo 3 >/proc/sys/vm/drop_caches
run mount -t ext4 -o ro "$dev" /mnt/fs
(cd /mnt/fs && sha256sum -c -s /share/sums) || fail "checksums differ after a remount"
run umount /mnt/fs

step "destroy"
rminor=$(tap-ctl list | sed -n 's/.*pid=\([0-9]*\) minor=\([0-9]*\) state=[^ ]* args=.*/\2/p' | head -1)
run tap-ctl destroy -m "$rminor"
run tap-ctl destroy -m "$minor" # the dead tapdisk's: its marker freed
nothing_left "after destroy"

step "tapdisk -R --frontend nbd: a read-only device, printed after the URI, gone with SIGTERM"
tapdisk -R --frontend nbd "vhd:$leaf" >/tmp/tapdisk.out 2>/tmp/tapdisk.err &
tpid=$!
for _ in $(seq 50); do
	[ "$(wc -l </tmp/tapdisk.out)" -ge 3 ] && break
	sleep 0.2
done
[ "$(sed -n 3p /tmp/tapdisk.out)" = /dev/nbd0 ] || fail "tapdisk printed $(cat /tmp/tapdisk.out) $(cat /tmp/tapdisk.err)"
[ "$(blockdev --getro /dev/nbd0)" = 1 ] || fail "/dev/nbd0 of a read-only image is writable"
dd if=/dev/nbd0 of=/dev/null bs=64k count=16 2>/dev/null || fail "reading the read-only device"
kill -TERM $tpid
wait $tpid || fail "tapdisk exited $? on SIGTERM"
nothing_left "after SIGTERM"
echo "$leaf" >/share/leaf
