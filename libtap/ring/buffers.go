package ring

import (
	"math/bits"
	"sync"
	"unsafe"
)

// Alignment of every data buffer: O_DIRECT needs the logical block size
// of the device; 4 KiB covers every device in use.
const Alignment = 4096

// MaxRequest is the largest request the ring carries (NBD clients may
// send 32 MiB).
const MaxRequest = 32 << 20

// AlignedBuffer returns n bytes starting at an Alignment boundary.
func AlignedBuffer(n int) []byte {
	b := make([]byte, n+Alignment)
	skip := int(-uintptr(unsafe.Pointer(&b[0])) & (Alignment - 1))
	return b[skip : skip+n : skip+n]
}

// sizeClasses pools buffers larger than a slot's own, by power of two, so
// large requests reuse memory instead of allocating each time.
type sizeClasses struct{ pools [32]sync.Pool }

var bigBuffers sizeClasses

func class(n int) int { return bits.Len(uint(n - 1)) }

// get returns a buffer of at least n bytes. The pools hold pointers to
// slices, made once per buffer, so that putting one back allocates
// nothing (a slice header stored in an interface would).
func (s *sizeClasses) get(n int) *[]byte {
	c := class(n)
	if b, ok := s.pools[c].Get().(*[]byte); ok {
		return b
	}
	b := AlignedBuffer(1 << c)
	return &b
}

func (s *sizeClasses) put(b *[]byte) {
	s.pools[class(cap(*b))].Put(b)
}
