// Package libtap is the engine behind tapdisk and the tools that drive
// it. Its packages, in the order a request meets them:
//
//	nbd        the NBD server: the frontend clients (QEMU, libnbd, the
//	           kernel via nbdfuse or nbd.ko) connect to
//	nbd/wire   the NBD wire format, which the nbd driver speaks too
//	ring       fixed pool of request slots with aligned buffers; a full
//	           ring is the back-pressure, nothing is dropped
//	vbd        one virtual block device: validates requests, lifecycle
//	           (open, pause, resume, close) with blktap's states, stats
//	sched      merges adjacent requests into vectored I/O, bounds the
//	           driver's queue depth, retries EAGAIN/EBUSY/EINTR
//	filter/…   layers over a driver that change only what they must:
//	           valve (rate limits), error and delay (fault and latency
//	           injection); a spec stacks them (disk.ParseChain)
//	disk       the narrow driver interface (read, write, flush, trim,
//	           write-zeroes, extents, capabilities)
//	drivers/…  aio (raw file or device), vhd (libvhd chains), ram, nbd
//	           (another NBD server as backing store); drivers.Open parses
//	           blktap's type:path and stacks the filter layers over it
//	stats      atomic counters and latency histograms
//
// Around them, for the daemon and the command-line tools:
//
//	control    the versioned JSON-lines control protocol: server and client
//	control/wire  what the protocol reports of a VBD (info, state
//	              bits and names, error records), filled in by vbd: a
//	              leaf, so the tools link none of the engine
//	rundir     the run directory: socket and minor-marker names, locks
//	tapscan    finds every tapdisk, VBD and minor in a run directory
//	livesnap   live snapshot of a served disk (xmsnap, tapmon)
package libtap
