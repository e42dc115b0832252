// Command tapdisk serves virtual disks from user space: blktap's tapdisk,
// with NBD as the frontend, and the kernel's NBD client for a block device.
//
// # Synopsis
//
//	tapdisk [flags] [TYPE:PATH...]
//
// # Description
//
// tapdisk creates its control socket ctl<pid> in the run directory and
// opens each image given, on a minor of its own: the lowest free one,
// from the allocator tap-ctl allocate uses, so never a minor reserved,
// served by another tapdisk, or left by one that was killed. Once every
// image is open, and not before, it prints the control socket's path,
// then one line per image: the NBD URI it is served at, a Unix socket
// nbd<pid>.<minor> of mode 0600 beside the control socket. So one
// command serves a disk, the way qemu-nbd does, and several tapdisks
// share a run directory:
//
//	$ tapdisk vhd:/srv/vm.vhd &
//	/run/blktap-control/ctl4242
//	nbd+unix:///?socket=/run/blktap-control/nbd4242.0
//	$ tapdisk vhd:/srv/other.vhd &
//	/run/blktap-control/ctl4250
//	nbd+unix:///?socket=/run/blktap-control/nbd4250.1
//	$ nbdinfo 'nbd+unix:///?socket=/run/blktap-control/nbd4242.0'
//
// If an image cannot be opened (missing, corrupt, locked by another
// server), tapdisk prints nothing on stdout, logs why, closes what it
// opened, removes every file it made in the run directory (sockets,
// minor markers) and exits 1.
//
// Images are blktap's TYPE:PATH: vhd:/srv/a.vhd (a VHD chain), aio:/dev/sdb
// (a raw file or device, O_DIRECT unless -D), ram:64M (a disk in memory;
// ram:FILE starts as a copy of FILE, never written back). A ram disk
// takes its memory when it opens, and one larger than the free memory
// (MemAvailable, and this process's cgroup limits) is refused with ENOMEM;
// it keeps its data across pause and unpause, and loses it at close.
//
// Filter layers stack over an image, outermost first, each NAME:OPTIONS:
// (see package gotap.dev/libtap/filter): valve rate-limits a disk (bytes
// and requests a second, reads and writes apart, with bursts; tap-ctl
// rate changes the limits live, and they outlast pause and unpause),
// error fails chosen requests with an errno and delay holds them, to
// test how a stack copes:
//
//	$ tapdisk valve:rbps=20M,wbps=20M:vhd:/srv/vm.vhd
//	$ tapdisk error:errno=EIO,ops=read,file=/run/fail-reads:ram:64M
//
// An open that does not return within --open-timeout (an image on a
// server that stopped answering) fails with ETIMEDOUT; it never holds up
// list, stats or any other minor's requests.
//
// tap-ctl (or a shell: see package gotap.dev/libtap/control) attaches,
// opens, pauses, resumes, closes and detaches more minors over the control
// socket. A tapdisk started without images exits once the last minor it
// was given is detached, as blktap's does when tap-ctl spawned it.
//
// # Kernel block devices
//
// --frontend nbd also serves each image as a kernel block device,
// /dev/nbdN, through the kernel's own NBD client (nbd.ko): tapdisk hands
// it --nbd-conns connected sockets over generic netlink (no NBD
// handshake, no nbd-client) and serves them like any NBD connection, so
// pause, resume, snapshots and live coalesces work on the device as on
// the socket. The device's path is printed after the image's NBD URI,
// and list and stats name it. --device /dev/nbd3 takes that device (EBUSY
// if it is in use); by default the kernel picks a free one. Closing the
// minor (tap-ctl close or destroy, SIGTERM) disconnects the device. A
// kernel without nbd.ko is refused with ENODEV and the module to load
// (modprobe nbd); an image that fails to open, or a device in use,
// leaves no device and no minor behind. Root only (CAP_SYS_ADMIN).
//
// A tapdisk that dies (kill -9, a crash) leaves its device waiting, not
// failing: the kernel holds the requests, and retries those it had sent
// once the request timeout (-t, default 120 s) passes. Starting a tapdisk
// on the same image with --recover gives the device new connections
// (NBD_CMD_RECONFIGURE) and every request goes on; the device must be one
// gotap made, of the image's size. Within -t of the death, no request
// fails (the kernel waits that long for a new connection):
//
//	$ tapdisk --frontend nbd -t 30 vhd:/srv/vm.vhd &
//	/run/blktap-control/ctl4242
//	nbd+unix:///?socket=/run/blktap-control/nbd4242.0
//	/dev/nbd0
//	$ kill -9 %1
//	$ tapdisk --frontend nbd -t 30 --device /dev/nbd0 --recover vhd:/srv/vm.vhd &
//
// (tap-ctl create --frontend nbd --device /dev/nbd0 --recover -a
// vhd:/srv/vm.vhd does the same; after a live snapshot, give the image the
// device served last: its chain's leaf.)
//
// --frontend ublk makes /dev/ublkbN instead, through the kernel's ublk
// driver (ublk_drv, Linux 6.5 or later; modprobe ublk_drv): the kernel
// hands requests to a queue per CPU (up to 4), each served inline by an
// OS thread of tapdisk's over io_uring (libtap/ublk). Its device is made
// with user recovery: a tapdisk that dies leaves it waiting with its
// requests held, with no timeout, and --recover (with --device
// /dev/ublkbN, the image's leaf) takes it over; the requests held are
// reissued, none fails. The same refusals leave nothing behind (no
// /dev/ublkbN).
//
// # Who may connect
//
// Every socket checks who is at the other end. The control socket and
// the NBD sockets let in root and tapdisk's own uid only, by the peer's
// credentials (SO_PEERCRED), whatever their mode; others are logged and
// disconnected before the NBD handshake. Over TCP, loopback included
// (any local user can reach it), a client must start TLS and present a
// certificate signed by a CA of --tls-ca; anyone who holds one reads and
// writes every disk, so the CA should be tapdisk's own. Clients:
//
//	$ nbdinfo 'nbds://host:10809/0?tls-certificates=DIR'
//	$ qemu-img info --object tls-creds-x509,id=tls0,endpoint=client,dir=DIR \
//	    --image-opts driver=nbd,server.type=inet,server.host=host,server.port=10809,export=0,tls-creds=tls0
//
// where DIR holds ca-cert.pem, client-cert.pem and client-key.pem. TLS
// with a pre-shared key (libnbd's tls-psk-file) is not supported: Go's
// TLS has no PSK. Plain TCP, or TLS without client certificates, only
// with --tcp-insecure, and never in clear beyond loopback.
//
// On SIGTERM or SIGINT tapdisk stops taking requests, lets those in flight
// complete, closes every image (flushing, and writing VHD footers and
// batmaps), removes its sockets and exits 0. That is bounded: a control
// request still running 5 s after the signal is left behind, and 70 s
// after it tapdisk exits 1 without waiting for what is stuck (a request
// in a hung device), leaving the images as kill -9 would (see
// Durability). A second SIGTERM or SIGINT kills it at once.
//
// # Limits
//
// No client can take what the others need. Each NBD listener (each
// minor's socket, and --tcp) serves at most --max-conns connections at
// once, the control socket --max-control-conns; one more is accepted and
// closed at once, so the backlog keeps draining and a good client gets in
// as soon as a slot frees. A peer refused for its credentials takes no
// slot. An NBD client must finish negotiating within --handshake-timeout
// of connecting (it may then stay idle); a control client must send each
// request, and take each reply, within a minute. A failed accept (out of
// file descriptors) is logged and retried after a pause that grows to a
// second: it never stops a listener. Such refusals and failures are
// logged once per 10 s, then counted. The soft limit of open files is
// raised to the hard limit at start (Go does it).
//
// # Options
//
//	--run-dir DIR      run directory (default $BLKTAP_RUN_DIR, else
//	                   /run/blktap-control for root, else
//	                   $XDG_RUNTIME_DIR/blktap-control)
//	-R, --read-only    open the images given read-only
//	-D, --no-direct    buffered I/O instead of O_DIRECT (aio, vhd)
//	-t, --timeout SECS give up retrying a request after SECS (default 120)
//	--open-timeout D   give up opening an image, or reopening it for an
//	                   unpause, after D (default 30s)
//	--tcp ADDR         also serve every minor over TCP, export name = minor;
//	                   ADDR without a host listens on loopback only; needs
//	                   --tls-cert, --tls-key and --tls-ca, or --tcp-insecure
//	--tls-cert FILE, --tls-key FILE
//	                   the server's TLS certificate and key (PEM)
//	--tls-ca FILE      CA certificates (PEM): TCP clients must present a
//	                   certificate one of them signed
//	--tcp-insecure     serve TCP clients unauthenticated (in clear on
//	                   loopback, or TLS without --tls-ca): any local user
//	                   can then read and write every disk
//	--max-conns N      connections each NBD listener serves at once
//	                   (default 64; see Limits)
//	--max-control-conns N
//	                   connections the control socket serves at once
//	                   (default 16)
//	--handshake-timeout D
//	                   hang up an NBD client still negotiating D after
//	                   connecting (default 10s)
//	--log-file FILE    log there instead of stderr
//	--log-level LEVEL  debug, info, warn or error (default info)
//	--log-format FMT   text or json (default text)
//	--ring-slots N     requests in flight per minor (default 352)
//	--depth N          concurrent I/O operations per minor (default 32)
//	--defer-metadata   VHD: keep new metadata in memory until a flush
//	                   (faster first writes; see Durability)
//	--flush-interval D make written data durable at least every D
//	                   (default 5s; 0: only when the client flushes)
//	--parent-dir DIR   VHD: also accept parents under DIR (repeatable;
//	                   see Parents)
//	--frontend F       none (the NBD socket only, the default), nbd or
//	                   ublk: also a kernel block device /dev/nbdN or
//	                   /dev/ublkbN (see Kernel block devices)
//	--device DEV       with --frontend, for one image: the device to take
//	--recover          with --frontend and --device: reattach the image to
//	                   the device a dead tapdisk left waiting
//	--nbd-conns N      connections of each kernel NBD device (default 2)
//
// # Parents
//
// A VHD chain's parents come from the image itself (its parent locators,
// or with a null parent UUID a raw parent), so an image from elsewhere
// must not make tapdisk serve another file or disk. A parent is opened
// only if, every symbolic link followed, it is a regular file in its
// child's folder, or a regular file or block device under a folder
// allowed by --parent-dir or $GOTAP_PARENT_DIRS (colon-separated; it also
// covers the opens tap-ctl asks for); an LVM volume group's /dev/VG is
// such a folder. FIFOs, sockets, character devices and directories are
// never parents nor images, and never waited on; a raw parent must cover
// its child's size. An image whose block table places a block over its
// metadata, another block or its footer is refused unless opened
// read-only (-R), where reading it harms nothing. Each refusal names the
// image, the locator and the rule; a refused parent is EACCES to tap-ctl.
// vhd-util check reports the same.
//
// # Durability
//
// A write tapdisk has acknowledged survives kill -9 of tapdisk: VHD
// metadata (sector bitmaps, block table) reaches the image file before
// the write is acknowledged. A power cut leaves every image valid and
// keeps every write acknowledged before a completed flush (or with FUA);
// a later write may read back old, new, or, where it first wrote a
// sector into the image, zeros. --flush-interval bounds that window when
// the client never flushes. With --defer-metadata a kill -9 may also lose
// writes since the last flush (they read back old data, never zeros).
//
// # Exit status
//
// 0 after a clean shutdown; 1 if serving failed or an image could not be
// opened (nothing printed on stdout) or closed cleanly; 2 for bad flags;
// 16 (EBUSY) if an image could not be opened because another process
// uses it (a tapdisk, qemu-nbd, a VM: see image locks in the README).
package main
