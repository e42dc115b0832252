// Package control is the protocol tap-ctl, xmsnap and tapmon speak to a
// tapdisk: newline-delimited JSON over the tapdisk's Unix stream socket
// ctl<pid> in the run directory (see package rundir), so that a shell can
// speak it too. It holds the Server (tapdisk supplies a Handler that
// carries out the operations) and the Client the command-line tools use.
//
// # Requests and replies
//
// A request is one line holding one JSON object:
//
//	{"v":1,"id":ID,"op":"OP", …the op's fields}
//
// v is the protocol version, 1 (it may be left out); id is any JSON value,
// echoed in the reply (it may be left out too). A reply is one line:
//
//	{"v":1,"id":ID,"ok":true,"result":RESULT}
//	{"v":1,"id":ID,"ok":false,"errno":"ENOENT","error":"minor 3 is not attached"}
//
// result is left out for operations that return nothing. errno is the
// symbolic errno name (tap-ctl exits with its value); error is for people.
// Requests on one connection are answered in order; open several
// connections for concurrency.
//
// # Operations
//
// minor is 0 to 16383. An image is blktap's type:path (vhd:/srv/a.vhd,
// aio:/dev/sdb, ram:64M), possibly under filter layers
// (valve:rbps=20M:vhd:/srv/a.vhd; see disk.ParseChain). Info is a VBD's
// wire.Info (package control/wire): minor, image, state (blktap's bit
// flags: 0x2 closed, 0x20 paused, 0x200 resume failed…), state_name,
// size, read_only, direct, engine (aio's: "io_uring", or "syscalls" where
// io_uring is unavailable; absent for other drivers), ring_slots,
// ring_in_use, uptime_s, stats
// (reads, writes, bytes, errors, retries, merges, in_flight, latency
// percentiles), recent_errors (the last 8: failed pauses, resumes and
// I/O) and, for a chain with a valve layer, valve (rbps, wbps, riops,
// wiops, burst_ms, read_waits, write_waits, read_wait_s, write_wait_s),
// while a coalesce runs, coalescing ({done, total} bytes) and, with a
// frontend, device (its block device: /dev/nbd0); chain lists the
// images served, leaf first, each with the requests that reached it and
// those that failed there, blktap's hits and fail ([read, write]: a read
// reaches a parent once per run of sectors the images above it lack);
// stats' read_errors and write_errors count the reads and writes the
// driver failed.
//
//	op      request fields                                result
//	pid     -                                             {"pid":N}
//	list    -                                             [Info, …] every attached minor
//	attach  minor                                         - (minor reserved, state closed; EEXIST if attached)
//	open    minor, image, read_only, no_direct, timeout,
//	        frontend, device, recover                     {"minor":N,"nbd_socket":PATH,"uri":"nbd+unix:///?socket=PATH","device":DEV}
//	pause   minor                                         - (in-flight requests drained, image closed)
//	resume  minor, image (optional: a new image)          - (EMEDIUMTYPE if it is smaller; a larger one grows the disk)
//	close   minor                                         - (NBD socket closed, device detached, image flushed and closed; minor stays attached)
//	detach  minor                                         - (EBUSY while open)
//	stats   minor                                         Info
//	set-rate  minor, limits ("rbps=40M,wiops=500")        {"rbps":N,"wbps":N,"riops":N,"wiops":N,"burst_ms":N} in force
//	coalesce  minor, top (default 1), base (default 0: the last image)   {"sectors":N,"merged":[PATH, …],"paused_ns":N}
//	watch   minor (optional: all), interval_ms (≥10, default 1000)   a stream of replies, result [Info, …]
//
// open attaches the minor if it is not attached yet; EBUSY if an image is
// open on it. timeout is the per-request timeout in seconds (default 120).
// frontend "nbd" also serves the image as a kernel block device, the
// kernel's NBD client (device, in the reply, is /dev/nbdN), "none" (the
// default) only on the NBD socket; device takes that device ("/dev/nbd3";
// default: the kernel picks one, EBUSY if it is in use), and recover
// reattaches the image to the device a tapdisk that died left waiting
// (its requests go on if this comes within its request timeout). A kernel
// without the frontend's module gets ENODEV, naming the module to load;
// an open that fails leaves no device.
// Operations on a minor that is not attached fail with ENOENT; pause and
// resume of a closed one with ENODEV. An open (or a resume's reopen) that
// does not return in tapdisk's --open-timeout fails with ETIMEDOUT; a RAM
// disk larger than the free memory with ENOMEM. An operation waiting
// behind another on the same minor fails with EBUSY after that timeout
// and 5 s; list and stats never wait. A pause that fails leaves the
// minor running, unless its error says it stays paused (resume failed).
//
// set-rate changes the limits of a minor's valve layer at once, without a
// pause, even for requests already waiting: limits is in the valve's
// option syntax (see package valve), the keys given change, the others
// keep their values, 0 removes a limit. The limits outlast a pause and a
// resume of the same image. ENODEV if the minor is closed, EOPNOTSUPP if
// its image has no valve layer, EINVAL if limits do not parse; like
// stats, it never waits behind another operation.
//
// coalesce merges layers top..base-1 of a minor's chain (0 is the leaf,
// never merged live) into layer base while the minor serves, then pauses
// it only to point layer top-1 at base, and resumes; the reply comes
// once the chain is relinked, which takes as long as the copy. The merged
// images stay on disk. EOPNOTSUPP for a chain that cannot (not vhd),
// EBUSY while paused or while another coalesce runs, or when another
// process reads or writes layer base; EINVAL for layers the chain lacks.
// A pause or close meanwhile interrupts it (the copy so far is harmless:
// base holds data the layers above it hold too); it does not hold the
// minor, so other operations go on during the copy.
//
// watch answers at once and then every interval_ms, each reply with the
// request's id, until the client closes the connection (or the minor is
// detached: a last, failed reply). Closing only the sending half, as socat
// does when its input ends, does not end it. It takes over the connection: other
// requests need a connection of their own.
//
// # Errors
//
// A line that is not a JSON object, a field the op does not take, a value
// of the wrong type, a missing or out-of-range minor, or an image that is
// not type:path get EINVAL; an unknown op ENOSYS; a version other than 1
// EPROTONOSUPPORT. The connection stays open for the next request. A line
// longer than 64 KiB (MaxLine) gets EMSGSIZE and its connection is closed.
//
// # Access
//
// The socket has mode 0600, and the server checks each connection's peer
// credentials (SO_PEERCRED): only root and the tapdisk's own uid may
// speak; anyone else gets one EPERM reply and is disconnected.
//
// # From a shell
//
//	$ S=/run/blktap-control/ctl$(pgrep -n tapdisk)
//	$ echo '{"op":"list"}' | socat - UNIX-CONNECT:$S | jq '.result[] | {minor, image, state_name}'
//	$ echo '{"v":1,"id":1,"op":"pause","minor":0}' | socat - UNIX-CONNECT:$S
//	{"v":1,"id":1,"ok":true}
//	$ echo '{"op":"watch","minor":0,"interval_ms":500}' | socat -t 1000000 - UNIX-CONNECT:$S | jq -c '.result[].stats | {reads, writes}'
//
// (socat's -t keeps the connection open after its input ends, so the
// watch goes on.)
package control
