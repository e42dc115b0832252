// Package ring is the fixed pool of request slots every frontend submits
// through. Slots and their buffers are allocated once, when the ring is
// made; a frontend takes a slot (waiting while all are in use: that wait
// is the back-pressure), fills it, submits it, and returns it after the
// completion. Nothing on this path allocates in steady state.
package ring

import (
	"context"
	"sync/atomic"
	"time"

	"gotap.dev/libtap/disk"
)

// Op is what a request asks of the disk.
type Op uint8

const (
	Read Op = iota
	Write
	Flush
	Trim
	WriteZeroes
	BlockStatus // the allocation map of the range, into Extents
	Cache       // a hint to read ahead: drivers read through their own caches
)

var opNames = [...]string{"read", "write", "flush", "trim", "write-zeroes", "block-status", "cache"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op?"
}

// Flags modify a request.
type Flags uint8

const (
	FUA       Flags = 1 << iota // durable before completion
	NoHole                      // write-zeroes: allocate, do not punch
	FastZero                    // write-zeroes: fail with ENOTSUP unless cheap
	OneExtent                   // block status: the frontend reads only the first extent
)

// Completer receives finished requests; frontends implement it.
type Completer interface{ Complete(*Request) }

// Request is one slot of the ring.
type Request struct {
	Op     Op
	Flags  Flags
	Offset int64
	Length int64
	// Buf holds the data of a read or write: len(Buf) == Length. Set it
	// with Data.
	Buf []byte
	// Extents is a block status's result. The slot keeps the array
	// across uses, so once grown to a disk's usual maps it allocates no
	// more.
	Extents []disk.Extent
	// Err is the outcome, set before Complete is called: nil or a
	// syscall.Errno (the frontends report errnos).
	Err   error
	Owner Completer
	// Cookie is the frontend's own tag (e.g. the NBD handle).
	Cookie uint64

	Submitted time.Time // set by the scheduler, for latency and the watchdog
	Retries   int

	own      []byte  // the slot's preallocated buffer
	borrowed *[]byte // a larger buffer from the shared pool, if any
	// since is Submitted in Unix nanoseconds while in flight, else 0:
	// the watchdog reads it from another goroutine, so atomically.
	since atomic.Int64
}

// Data returns Buf sized to n bytes, from the slot's own buffer or, for a
// request larger than that, a pooled one.
func (r *Request) Data(n int) []byte {
	if n <= cap(r.own) {
		r.Buf = r.own[:n]
		return r.Buf
	}
	r.borrowed = bigBuffers.get(n)
	r.Buf = (*r.borrowed)[:n]
	return r.Buf
}

// InFlight reports whether the request is between submission and
// completion (for the watchdog).
func (r *Request) InFlight() bool { return r.since.Load() != 0 }

// InFlightSince is when an in-flight request was submitted; safe to call
// from any goroutine (the watchdog), unlike reading Submitted.
func (r *Request) InFlightSince() (time.Time, bool) {
	ns := r.since.Load()
	return time.Unix(0, ns), ns != 0
}

// SetInFlight marks submission (true, after Submitted is set) and
// completion (false).
func (r *Request) SetInFlight(v bool) {
	var ns int64
	if v {
		ns = r.Submitted.UnixNano()
	}
	r.since.Store(ns)
}

// Ring is a fixed set of request slots.
type Ring struct {
	slots []Request
	free  chan *Request
	mem   []byte // every slot's own buffer, back to back
}

// New makes a ring of n slots, each with its own bufSize-byte buffer
// (aligned for O_DIRECT).
func New(n, bufSize int) *Ring {
	mem := AlignedBuffer(n * bufSize)
	r := &Ring{slots: make([]Request, n), free: make(chan *Request, n), mem: mem}
	for i := range r.slots {
		r.slots[i].own = mem[i*bufSize : (i+1)*bufSize : (i+1)*bufSize]
		r.free <- &r.slots[i]
	}
	return r
}

// Get takes a free slot, waiting while none is free.
func (r *Ring) Get(ctx context.Context) (*Request, error) {
	select {
	case req := <-r.free:
		return req, nil
	default:
	}
	select {
	case req := <-r.free:
		return req, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TryGet takes a free slot, or returns nil if none is free.
func (r *Ring) TryGet() *Request {
	select {
	case req := <-r.free:
		return req
	default:
		return nil
	}
}

// Put returns a slot to the ring, resetting it.
func (r *Ring) Put(req *Request) {
	if req.borrowed != nil {
		bigBuffers.put(req.borrowed)
	}
	// Field by field: the watchdog may be loading since (already 0)
	// at this moment, so the slot is not overwritten as a whole.
	req.Op, req.Flags, req.Offset, req.Length = 0, 0, 0, 0
	req.Buf, req.Err, req.Owner, req.Cookie = nil, nil, nil, 0
	req.Extents = req.Extents[:0]
	req.Submitted, req.Retries, req.borrowed = time.Time{}, 0, nil
	r.free <- req
}

// Memory is the one allocation holding every slot's own buffer, for a
// driver to register with the kernel (io_uring's fixed buffers).
func (r *Ring) Memory() []byte { return r.mem }

// Cap is the number of slots.
func (r *Ring) Cap() int { return len(r.slots) }

// InUse counts slots taken.
func (r *Ring) InUse() int { return len(r.slots) - len(r.free) }

// Each calls fn for every slot (the watchdog scans them).
func (r *Ring) Each(fn func(*Request)) {
	for i := range r.slots {
		fn(&r.slots[i])
	}
}
