package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Setup flags (io_uring_setup(2)); x/sys does not define them.
const (
	SetupClamp        = 1 << 4
	SetupCoopTaskrun  = 1 << 8
	SetupSQE128       = 1 << 10 // 128-byte SQEs: URING_CMD's 80-byte payload (ublk)
	SetupCQE32        = 1 << 11
	SetupSingleIssuer = 1 << 12
)

// featSingleMmap: the kernel maps both queues in one region.
const featSingleMmap = 1 << 0

// Opcodes, in the kernel's numbering.
const (
	OpNop        uint8 = 0
	OpReadv      uint8 = 1
	OpWritev     uint8 = 2
	OpFsync      uint8 = 3
	OpReadFixed  uint8 = 4
	OpWriteFixed uint8 = 5
	OpRead       uint8 = 22
	OpWrite      uint8 = 23
	OpURingCmd   uint8 = 46
)

// FsyncDatasync makes OpFsync an fdatasync.
const FsyncDatasync = 1

// cqEventfdDisabled, in the completion queue's flags, stops the
// eventfd's signals.
const cqEventfdDisabled = 1 << 0

// io_uring_enter(2) flags.
const enterGetEvents = 1 << 0

// io_uring_register(2) opcodes.
const (
	registerBuffers        = 0
	registerEventfd        = 4
	registerProbe          = 8
	probeOpSupported       = 1
	maxProbeOps            = 256
	offSQRing        int64 = 0
	offSQEs          int64 = 0x10000000
)

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

func setup(entries uint32, p *params) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// enter is io_uring_enter(2). A call that waits goes through the
// runtime's syscall entry, so that the other goroutines run meanwhile; one
// that only submits is raw: io_uring does not block in submission (what
// would block goes to its workers), and the runtime's entry wakes sysmon
// from its idle sleep each time (perf, QD1 O_DIRECT reads: 60% of the
// thread wake-ups, one per request).
func enter(fd int, toSubmit, minComplete uint32, flags uint32) (int, error) {
	call := unix.Syscall6
	if flags&enterGetEvents == 0 {
		call = unix.RawSyscall6
	}
	n, _, errno := call(unix.SYS_IO_URING_ENTER, uintptr(fd), uintptr(toSubmit), uintptr(minComplete), uintptr(flags), 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

func register(fd int, op uint32, arg unsafe.Pointer, n uint32) error {
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(fd), uintptr(op), uintptr(arg), uintptr(n), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
