package uring

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// RegisterBuffers pins bufs as the ring's fixed buffers, index i being
// bufs[i], for OpReadFixed and OpWriteFixed. The memory must stay
// allocated (and unmoved: Go's heap does not move) until the ring is
// closed.
func (r *Ring) RegisterBuffers(bufs ...[]byte) error {
	iov := make([]unix.Iovec, len(bufs))
	for i, b := range bufs {
		iov[i].Base = unsafe.SliceData(b)
		iov[i].SetLen(len(b))
	}
	if err := register(r.fd, registerBuffers, unsafe.Pointer(unsafe.SliceData(iov)), uint32(len(iov))); err != nil {
		return fmt.Errorf("io_uring: register buffers: %w", err)
	}
	return nil
}

// RegisterEventfd makes the kernel signal fd at each completion, so that
// a goroutine can wait for completions in the Go netpoller.
func (r *Ring) RegisterEventfd(fd int) error {
	v := int32(fd)
	if err := register(r.fd, registerEventfd, unsafe.Pointer(&v), 1); err != nil {
		return fmt.Errorf("io_uring: register eventfd: %w", err)
	}
	return nil
}

// probe is struct io_uring_probe with room for every opcode.
type probe struct {
	lastOp, opsLen uint8
	resv           uint16
	resv2          [3]uint32
	ops            [maxProbeOps]struct {
		op, resv uint8
		flags    uint16
		resv2    uint32
	}
}

// Supported reports which of ops the kernel implements
// (IORING_REGISTER_PROBE); the error names the first one missing.
func (r *Ring) Supported(ops ...uint8) error {
	var p probe
	if err := register(r.fd, registerProbe, unsafe.Pointer(&p), maxProbeOps); err != nil {
		return fmt.Errorf("io_uring: probe: %w", err)
	}
	for _, op := range ops {
		if op > p.lastOp || p.ops[op].flags&probeOpSupported == 0 {
			return fmt.Errorf("io_uring: opcode %d not supported: %w", op, unix.ENOSYS)
		}
	}
	return nil
}
