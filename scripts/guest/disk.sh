# disk.sh: the scenario every kernel frontend's guest test runs on its
# device (. /guest/disk.sh after lib.sh): a file system with a tree of
# files, a writer through live snapshots and a coalesce, the checksums
# after a remount, and the read-only device of a one-command tapdisk.

# field NAME: NAME's value in tap-ctl list's first line.
field() { tap-ctl list | sed -n "s/.*$1=\([^ ]*\).*/\1/p" | head -1; }

# fill_tree DEV: ext4 on DEV, mounted on /mnt/fs, with a tree of files.
fill_tree() {
	run mkfs.ext4 -q -F "$1"
	mkdir -p /mnt/fs
	run mount -t ext4 "$1" /mnt/fs
	for i in $(seq 1 60); do
		mkdir -p /mnt/fs/tree/d$((i % 6))
		dd if=/dev/urandom of=/mnt/fs/tree/d$((i % 6))/f$i bs=4k count=$((i % 17 + 1)) 2>/dev/null ||
			fail "writing tree/f$i"
	done
}

# start_writer: files written and fsynced one after the other under
# /mnt/fs/w until stop_writer; any error (EIO) ends it with a failure.
# Sets wpid.
start_writer() {
	(
		mkdir -p /mnt/fs/w
		i=0
		while [ ! -e /tmp/stop ]; do
			i=$((i + 1))
			dd if=/dev/urandom of=/mnt/fs/w/f$i bs=16k count=$((i % 8 + 1)) conv=fsync 2>/tmp/writer.err ||
				{ echo "writer: f$i: $(cat /tmp/writer.err)"; exit 1; }
		done
		echo "writer: $i files"
	) &
	wpid=$!
}

# stop_writer: the writer ends, and must have met no error.
stop_writer() {
	touch /tmp/stop
	wait $wpid || fail "the writer failed"
}

# snapshots_and_coalesce MINOR: two live snapshots and a live coalesce
# under the writer; sets leaf to the chain's leaf.
snapshots_and_coalesce() {
	step "two snapshots and a live coalesce under the writer"
	sleep 2
	run xmsnap snapshot "$1"
	sleep 2
	run xmsnap snapshot "$1"
	sleep 2
	run xmsnap coalesce "$1"
	leaf=$(field args | sed 's/^vhd://')
	echo "leaf: $leaf"
}

# check_sums DEV: the files' checksums into /share/sums, read back
# through DEV after a remount with the caches dropped.
check_sums() {
	step "checksums through the device"
	(cd /mnt/fs && find . -type f ! -name sums | sort | xargs sha256sum) >/share/sums
	run umount /mnt/fs
	echo 3 >/proc/sys/vm/drop_caches
	run mount -t ext4 -o ro "$1" /mnt/fs
	(cd /mnt/fs && sha256sum -c -s /share/sums) || fail "checksums differ after a remount"
	run umount /mnt/fs
}

# destroy_all MINOR: destroys the running tapdisk's minor and MINOR, the
# killed one's (its marker freed).
destroy_all() {
	step "destroy"
	rminor=$(tap-ctl list | sed -n 's/.*pid=\([0-9]*\) minor=\([0-9]*\) state=[^ ]* args=.*/\2/p' | head -1)
	run tap-ctl destroy -m "$rminor"
	run tap-ctl destroy -m "$1"
}

# read_only_device FRONTEND DEV IMAGE: tapdisk -R --frontend FRONTEND
# makes DEV read-only, prints it after the URI, and SIGTERM removes it.
read_only_device() {
	step "tapdisk -R --frontend $1: a read-only device, printed after the URI, gone with SIGTERM"
	tapdisk -R --frontend "$1" "vhd:$3" >/tmp/tapdisk.out 2>/tmp/tapdisk.err &
	tpid=$!
	for _ in $(seq 50); do
		[ "$(wc -l </tmp/tapdisk.out)" -ge 3 ] && break
		sleep 0.2
	done
	[ "$(sed -n 3p /tmp/tapdisk.out)" = "$2" ] || fail "tapdisk printed $(cat /tmp/tapdisk.out) $(cat /tmp/tapdisk.err)"
	[ "$(blockdev --getro "$2")" = 1 ] || fail "$2 of a read-only image is writable"
	dd if="$2" of=/dev/null bs=64k count=16 2>/dev/null || fail "reading the read-only device"
	kill -TERM $tpid
	wait $tpid || fail "tapdisk exited $? on SIGTERM"
}
