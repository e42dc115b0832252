// Package uring is gotap's io_uring engine, over golang.org/x/sys/unix:
// a Ring (the submission and completion queues and the entries, mapped
// once at setup), fixed buffers, an eventfd, feature probing; and a Queue
// on top, which lets many goroutines run operations through one ring
// without a goroutine or an allocation per operation.
//
// A Ring is for one submitter and one reaper at a time (they may be two
// goroutines): the ublk frontend drives one from the OS thread that set
// it up, with 128-byte entries (SetupSQE128) for its URING_CMDs; the aio
// driver shares one between its workers through a Queue.
package uring

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring is one io_uring instance.
type Ring struct {
	fd       int
	flags    uint32
	features uint32
	rings    []byte // both queues' heads, tails and arrays (IORING_FEAT_SINGLE_MMAP)
	sqeMem   []byte

	sqHead, sqTail *uint32 // shared with the kernel
	sqMask         uint32
	sqEntries      uint32
	tail           uint32 // entries handed out, published to sqTail at submission
	sqes           unsafe.Pointer
	sqeSize        uintptr

	cqHead, cqTail *uint32
	cqFlags        *uint32
	cqMask         uint32
	cqes           unsafe.Pointer
	cqeSize        uintptr
}

// New sets up a ring of at least entries submission entries (the kernel
// rounds up to a power of two; the completion queue is twice that) with
// the given Setup flags.
func New(entries uint32, flags uint32) (*Ring, error) {
	p := params{flags: flags}
	fd, err := setup(entries, &p)
	if err != nil {
		return nil, fmt.Errorf("io_uring_setup: %w", err)
	}
	r := &Ring{fd: fd, flags: flags, features: p.features, sqEntries: p.sqEntries, sqeSize: 64, cqeSize: 16}
	if err := r.mapRings(&p); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

func (r *Ring) mapRings(p *params) error {
	// Kernels before 5.4 need two maps; gotap asks for one, and calls a
	// kernel without it unavailable.
	if p.features&featSingleMmap == 0 {
		return fmt.Errorf("io_uring without IORING_FEAT_SINGLE_MMAP: %w", unix.ENOSYS)
	}
	if r.flags&SetupSQE128 != 0 {
		r.sqeSize = 128
	}
	if r.flags&SetupCQE32 != 0 {
		r.cqeSize = 32
	}
	size := max(uintptr(p.sqOff.array)+uintptr(p.sqEntries)*4, uintptr(p.cqOff.cqes)+uintptr(p.cqEntries)*r.cqeSize)
	var err error
	r.rings, err = unix.Mmap(r.fd, offSQRing, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring rings: mmap: %w", err)
	}
	r.sqeMem, err = unix.Mmap(r.fd, offSQEs, int(uintptr(p.sqEntries)*r.sqeSize), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("io_uring entries: mmap: %w", err)
	}
	base := unsafe.Pointer(&r.rings[0])
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Add(base, off)) }
	r.sqHead, r.sqTail, r.sqMask = u32(p.sqOff.head), u32(p.sqOff.tail), *u32(p.sqOff.ringMask)
	r.cqHead, r.cqTail, r.cqMask = u32(p.cqOff.head), u32(p.cqOff.tail), *u32(p.cqOff.ringMask)
	r.cqFlags = u32(p.cqOff.flags)
	r.cqes = unsafe.Add(base, p.cqOff.cqes)
	r.sqes = unsafe.Pointer(&r.sqeMem[0])
	r.tail = *r.sqTail
	// Entry i always sits in slot i of the indirection array, written
	// once here rather than at each submission.
	array := unsafe.Slice(u32(p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	return nil
}

// Entries is the submission queue's size.
func (r *Ring) Entries() uint32 { return r.sqEntries }

// FD is the ring's file descriptor.
func (r *Ring) FD() int { return r.fd }

// SQE hands out the next submission entry, zeroed, or nil while the
// submission queue is full. It is the kernel's once Submit is called.
func (r *Ring) SQE() *SQE {
	if r.tail-atomic.LoadUint32(r.sqHead) >= r.sqEntries {
		return nil
	}
	e := unsafe.Add(r.sqes, uintptr(r.tail&r.sqMask)*r.sqeSize)
	clear(unsafe.Slice((*byte)(e), r.sqeSize))
	r.tail++
	return (*SQE)(e)
}

// Submit hands the entries taken since the last Submit to the kernel.
func (r *Ring) Submit() (int, error) { return r.SubmitAndWait(0) }

// SubmitAndWait submits, then waits until at least wait completions are
// in the completion queue. The wait blocks the calling thread in the
// kernel; the Go runtime runs other goroutines meanwhile. If it fails,
// the entries the kernel did not take are dropped, so that a later
// submission does not run them behind their owners' backs.
func (r *Ring) SubmitAndWait(wait uint32) (int, error) {
	atomic.StoreUint32(r.sqTail, r.tail) // publishes the entries' contents too
	var flags uint32
	if wait > 0 {
		flags = enterGetEvents
	}
	for {
		pending := r.tail - atomic.LoadUint32(r.sqHead)
		if pending == 0 && wait == 0 {
			return 0, nil
		}
		n, err := enter(r.fd, pending, wait, flags)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			r.tail = atomic.LoadUint32(r.sqHead)
			atomic.StoreUint32(r.sqTail, r.tail)
			return 0, fmt.Errorf("io_uring_enter: %w", err)
		}
		return n, nil
	}
}

// PeekCQE returns the oldest completion not yet seen, or nil.
func (r *Ring) PeekCQE() *CQE {
	head := atomic.LoadUint32(r.cqHead)
	if head == atomic.LoadUint32(r.cqTail) {
		return nil
	}
	return (*CQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*r.cqeSize))
}

// SeenCQE gives the completion PeekCQE returned back to the kernel.
func (r *Ring) SeenCQE() { atomic.AddUint32(r.cqHead, 1) }

// EventfdEnabled turns the signalling of the registered eventfd on or
// off (IORING_CQ_EVENTFD_DISABLED); completions posted while it is off
// are never signalled.
func (r *Ring) EventfdEnabled(on bool) {
	f := atomic.LoadUint32(r.cqFlags)
	if on {
		f &^= cqEventfdDisabled
	} else {
		f |= cqEventfdDisabled
	}
	atomic.StoreUint32(r.cqFlags, f)
}

// Close unmaps and closes the ring; operations still running in the
// kernel are cancelled.
func (r *Ring) Close() error {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	if r.rings != nil {
		unix.Munmap(r.rings)
	}
	return unix.Close(r.fd)
}
