// Command tap-ctl starts, lists and controls tapdisk processes: blktap's
// tap-ctl, with its commands, flags and list output.
//
// # Synopsis
//
//	tap-ctl [--run-dir DIR] COMMAND [FLAGS]
//
// # Commands
//
//	list [-p PID] [-m MINOR] [-t TYPE] [-f FILE] [--json]
//	allocate [-m MINOR]                   reserve a minor (default the lowest free); prints its marker path
//	free -m MINOR                         release it, and what a killed tapdisk left of it
//	spawn [--log-file FILE]               start a tapdisk; prints its pid
//	attach -p PID -m MINOR                attach the minor to that tapdisk
//	detach [-p PID] -m MINOR              detach a closed minor; a spawned tapdisk exits with its last
//	open [-p PID] -m MINOR -a TYPE:PATH [-R] [-D] [-t SECS] [--rate LIMITS] [--frontend F [--device DEV] [--recover]]   open an image; prints its NBD URI (or device)
//	close [-p PID] -m MINOR [-f]          close the image (the minor stays attached)
//	pause [-p PID] -m MINOR               drain in-flight requests, close the image
//	unpause [-p PID] -m MINOR [-a TYPE:PATH]   reopen it, or another image of the same size
//	create -a TYPE:PATH [-R] [-D] [-t SECS] [--rate LIMITS] [--frontend F [--device DEV] [--recover]] [--log-file FILE]   allocate + spawn + attach + open
//	destroy [-p PID] -m MINOR             close + detach + free
//	stats [-p PID] -m MINOR [-f] [--interval D]   state and counters as JSON
//	rate [-p PID] -m MINOR [--rbps B] [--wbps B] [--riops N] [--wiops N] [--burst D]   change rate limits live
//
// -p may be left out wherever the minor is attached: tap-ctl reads the
// pid of the minor's tapdisk from its marker (see Minors). Images are TYPE:PATH: vhd:/srv/a.vhd,
// aio:/srv/a.img (raw file or device), ram:64M, nbd:unix:/run/x.sock;
// relative paths are made absolute. -R opens read-only, -D without
// O_DIRECT, -t sets the per-request timeout (default 120 s). blktap's -2
// (mirror secondary) and -s (standby) are refused with EOPNOTSUPP: gotap
// has no mirroring. close -f is accepted: close always ends the
// frontends' connections once their requests complete.
//
// An image may stack filter layers over it, each NAME:OPTIONS: (see
// tapdisk --help): valve:rbps=20M:vhd:/srv/a.vhd. --rate LIMITS puts a
// valve layer with those limits over the image: --rate rbps=20M,wbps=20M
// opens valve:rbps=20M,wbps=20M:TYPE:PATH. rate changes a valve's limits
// at once, without a pause (requests already waiting follow the new
// ones), and prints the limits in force in the same syntax; the flags
// given change, the others keep their values, 0 removes a limit. The
// limits outlast pause and unpause; stats shows them under "valve", with
// how long they held requests back. rate on a disk without a valve layer
// fails with EOPNOTSUPP.
//
// create prints the NBD URI the disk is served at
// (nbd+unix:///?socket=RUNDIR/nbd<pid>.<minor>); if a step fails, the
// steps taken are undone. --frontend nbd also makes the disk a kernel
// block device through the kernel's NBD client, and create (or open)
// prints its path instead, as blktap printed its tapdev:
//
//	# tap-ctl create --frontend nbd -a vhd:/srv/vm.vhd
//	/dev/nbd0
//
// --device /dev/nbd3 takes that device rather than one the kernel picks
// (EBUSY if in use); list (device=/dev/nbd0) and stats ("device") name
// it; close and destroy disconnect it. A kernel without nbd.ko is refused
// with ENODEV, saying to modprobe nbd. A disk whose tapdisk died (kill -9)
// keeps its device waiting: create --frontend nbd --device /dev/nbd0
// --recover -a IMAGE, within the request timeout (-t) of the death, hands
// it to a new tapdisk and no request fails (see tapdisk --help); destroy
// the dead tapdisk's minor afterwards to free it. --frontend ublk does
// the same with /dev/ublkbN through the kernel's ublk driver (modprobe
// ublk_drv), whose device waits for --recover with no time limit.
// destroy waits for a tapdisk whose last minor it
// detached to exit, so that no socket, marker or process is left.
//
// tap-ctl finds tapdisk beside its own executable, else on $PATH. A
// spawned tapdisk runs in its own session with no output (see --log-file).
//
// # Minors
//
// A minor is allocated while its marker RUNDIR/tapdisk/tapdisk-<minor>
// exists (created with O_EXCL: concurrent tap-ctl and tapdisks never
// collide; a tapdisk given images takes the lowest free minors the same
// way). The tapdisk serving it holds the marker's flock, which the
// kernel drops if the tapdisk dies, and writes its pid in the marker,
// cleared when it lets go. So commands act on the minor's own tapdisk,
// never on another that answers for it; and a marker that names a pid
// but is not locked was left by a killed tapdisk: its minor is refused
// to other tapdisks (EBUSY) until destroy or free, which exit 0, remove
// it with that tapdisk's NBD socket for it (and, with its last minor,
// its control socket). At most 16384 minors.
//
// # Output of list
//
// Rows: VBDs, then tapdisks with no VBD, then allocated minors with no
// tapdisk. On a terminal, a table (blktap's `%8s %4s %4s %10s %s`):
//
//	 pid minor state       type file
//	4242    0    0        vhd /srv/a.vhd
//	4250    1  0x1          - -
//	   -    2    -          - -
//
// Otherwise one line per row, unknown fields left out:
//
//	pid=4242 minor=0 state=0 args=vhd:/srv/a.vhd
//	pid=4250 minor=1 state=0x1
//	minor=2
//
// --json prints an array of {pid, minor, state, type, file}. state is
// blktap's bit set: 0x1 dead (the tapdisk was killed: destroy or free
// cleans up), 0x2 closed, 0x20 paused, 0x200 resume failed.
//
// stats prints the VBD's Info (package control/wire) as JSON (image,
// state, size, ring use, reads, writes, errors, latency…); --follow
// prints one per line every --interval until interrupted.
//
// # Exit status
//
// 0 on success; otherwise the errno of the failure, with its text on
// stderr as blktap prints it, then the details:
//
//	tap-ctl: open: No such file or directory (open minor 0: …)
//
// 2 ENOENT no such tapdisk or minor, 16 EBUSY minor in use (or left by
// a killed tapdisk), 17 EEXIST already allocated or attached, 22 EINVAL
// bad command line, 95 EOPNOTSUPP option gotap cannot honour, 111
// ECONNREFUSED dead tapdisk.
//
// # Examples
//
//	$ uri=$(tap-ctl create -a vhd:/srv/vm.vhd)
//	$ qemu-io -f raw -c 'write 0 1M' "$uri"
//	$ tap-ctl list | awk '$4 == "args=vhd:/srv/vm.vhd" { sub("minor=", "", $2); print $2 }'
//	0
//	$ tap-ctl stats -m 0 | jq .stats.writes
//	$ tap-ctl rate -m 0 --wbps 40M
//	rbps=0,wbps=41943040,riops=0,wiops=0,burst=1s
//	$ tap-ctl destroy -m 0
package main
