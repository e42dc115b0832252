package nbd_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"syscall"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
)

// The read every case makes, and what it must read.
const (
	readOff = 64 << 10
	readLen = 4096
)

const done = wire.ReplyFlagDone

// readCase is a reply to a read of readLen bytes at readOff, and what
// the driver must make of it.
type readCase struct {
	name       string
	structured bool
	reply      func(b []byte, cookie uint64) []byte
	want       outcome
	errno      syscall.Errno // fails: the server's error
	data       []byte        // succeeds: what is read; nil: the disk's bytes
}

var misbehavingReads = func() []readCase {
	const off = uint64(readOff)
	withHole := bytes.Clone(pattern[readOff : readOff+readLen])
	clear(withHole[1024:2048])
	return []readCase{
		{"one data chunk", true, func(b []byte, c uint64) []byte {
			return dataChunk(b, done, c, off, readLen)
		}, succeeds, 0, nil},
		{"data and hole out of order", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off+2048, 2048)
			b = holeChunk(b, 0, c, off+1024, 1024)
			b = dataChunk(b, 0, c, off, 1024)
			return noneChunk(b, c)
		}, succeeds, 0, withHole},
		{"64 chunks backwards", true, func(b []byte, c uint64) []byte {
			for i := 63; i >= 0; i-- {
				b = dataChunk(b, 0, c, off+uint64(i)*64, 64)
			}
			return noneChunk(b, c)
		}, succeeds, 0, nil},
		{"simple reply", false, func(b []byte, c uint64) []byte {
			return append(simple(b, 0, c), pattern[off:off+readLen]...)
		}, succeeds, 0, nil},

		{"short structured read", true, func(b []byte, c uint64) []byte {
			return dataChunk(b, done, c, off, readLen/2)
		}, violates, 0, nil},
		{"short, then NONE", true, func(b []byte, c uint64) []byte {
			return noneChunk(dataChunk(b, 0, c, off+512, readLen-512), c)
		}, violates, 0, nil},
		{"NONE alone", true, func(b []byte, c uint64) []byte {
			return noneChunk(b, c)
		}, violates, 0, nil},
		{"duplicate chunks", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off, readLen/2)
			return dataChunk(b, done, c, off, readLen/2)
		}, violates, 0, nil},
		{"overlap hiding a gap", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off, 2048)
			b = dataChunk(b, 0, c, off+1024, 2048)
			return noneChunk(b, c)
		}, violates, 0, nil},
		{"hole over data", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off, readLen)
			return holeChunk(b, done, c, off+512, 512)
		}, violates, 0, nil},
		{"chunk past the request", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off, readLen-512)
			return dataChunk(b, done, c, off+readLen-512, 1024)
		}, violates, 0, nil},
		{"chunk before the request", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off-512, 1024)
			return dataChunk(b, done, c, off+512, readLen-512)
		}, violates, 0, nil},
		{"hole offset that wraps", true, func(b []byte, c uint64) []byte {
			b = holeChunk(b, 0, c, math.MaxUint64-100, readLen)
			return dataChunk(b, done, c, off, readLen)
		}, violates, 0, nil},
		{"hole offset at the largest int64", true, func(b []byte, c uint64) []byte {
			return holeChunk(b, done, c, math.MaxInt64, 1<<31)
		}, violates, 0, nil},
		{"data offset at the largest int64", true, func(b []byte, c uint64) []byte {
			b = chunk(b, done, wire.ReplyOffsetData, c, 8+1<<31)
			return be.AppendUint64(b, math.MaxInt64)
		}, violates, 0, nil},
		{"empty hole", true, func(b []byte, c uint64) []byte {
			b = holeChunk(b, 0, c, off, 0)
			return dataChunk(b, done, c, off, readLen)
		}, violates, 0, nil},
		{"data chunk without data", true, func(b []byte, c uint64) []byte {
			b = chunk(b, 0, wire.ReplyOffsetData, c, 8)
			b = be.AppendUint64(b, off)
			return dataChunk(b, done, c, off, readLen)
		}, violates, 0, nil},
		{"hole chunk of 16 bytes", true, func(b []byte, c uint64) []byte {
			b = chunk(b, done, wire.ReplyOffsetHole, c, 16)
			b = be.AppendUint64(b, off)
			return be.AppendUint64(b, readLen<<32)
		}, violates, 0, nil},
		{"too scattered", true, func(b []byte, c uint64) []byte {
			for i := range 65 { // 65 pieces with gaps between
				b = dataChunk(b, 0, c, off+uint64(2*i+1)*16, 16)
			}
			return noneChunk(b, c)
		}, violates, 0, nil},
		{"cookie of the previous request", true, func(b []byte, c uint64) []byte {
			return dataChunk(b, done, c-1, off, readLen)
		}, violates, 0, nil},
		{"wrong cookie in a later chunk", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off, 2048)
			return dataChunk(b, done, c+1, off+2048, 2048)
		}, violates, 0, nil},
		{"simple reply with wrong cookie", false, func(b []byte, c uint64) []byte {
			return append(simple(b, 0, c+7), pattern[off:off+readLen]...)
		}, violates, 0, nil},
		{"simple reply where structured was negotiated", true, func(b []byte, c uint64) []byte {
			return append(simple(b, 0, c), pattern[off:off+readLen]...)
		}, violates, 0, nil},
		{"simple error where structured was negotiated", true, func(b []byte, c uint64) []byte {
			return simple(b, wire.EPERM, c)
		}, violates, 0, nil},
		{"chunk where structured was not negotiated", false, func(b []byte, c uint64) []byte {
			return dataChunk(b, done, c, off, readLen)
		}, violates, 0, nil},
		{"NONE with a payload", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off, readLen)
			return append(chunk(b, done, wire.ReplyNone, c, 4), 0, 0, 0, 0)
		}, violates, 0, nil},
		{"NONE not last", true, func(b []byte, c uint64) []byte {
			b = chunk(b, 0, wire.ReplyNone, c, 0)
			return dataChunk(b, done, c, off, readLen)
		}, violates, 0, nil},
		{"unknown chunk type", true, func(b []byte, c uint64) []byte {
			b = append(chunk(b, 0, 42, c, 4), 1, 2, 3, 4)
			return dataChunk(b, done, c, off, readLen)
		}, violates, 0, nil},
		{"block status to a read", true, func(b []byte, c uint64) []byte {
			b = statusChunk(b, 0, c, readLen, 0)
			return dataChunk(b, done, c, off, readLen)
		}, violates, 0, nil},
		{"error chunk of 2 GiB", true, func(b []byte, c uint64) []byte {
			return chunk(b, done, wire.ReplyError, c, 1<<31)
		}, violates, 0, nil},
		{"error message longer than its chunk", true, func(b []byte, c uint64) []byte {
			b = chunk(b, done, wire.ReplyError, c, 8)
			return append(be.AppendUint32(b, wire.EPERM), 0, 100, 'n', 'o')
		}, violates, 0, nil},
		{"error with offset, without the offset", true, func(b []byte, c uint64) []byte {
			b = chunk(b, done, wire.ReplyErrorOffset, c, 6)
			return be.AppendUint16(be.AppendUint32(b, wire.EPERM), 0)
		}, violates, 0, nil},
		{"error chunk without an error", true, func(b []byte, c uint64) []byte {
			return errorChunk(b, done, c, 0, "")
		}, violates, 0, nil},

		{"error chunk", true, func(b []byte, c uint64) []byte {
			return errorChunk(b, done, c, wire.EPERM, "no")
		}, fails, syscall.EPERM, nil},
		{"error chunk after all the data", true, func(b []byte, c uint64) []byte {
			b = dataChunk(b, 0, c, off, readLen)
			return errorChunk(b, done, c, wire.ENOSPC, "")
		}, fails, syscall.ENOSPC, nil},
		{"error chunk, then the data", true, func(b []byte, c uint64) []byte {
			b = errorChunk(b, 0, c, wire.EIO, "disk on fire")
			return dataChunk(b, done, c, off, readLen)
		}, fails, syscall.EIO, nil},
		{"unknown error type", true, func(b []byte, c uint64) []byte {
			b = chunk(b, 0, wire.ReplyErrorBit+99, c, 6)
			b = be.AppendUint16(be.AppendUint32(b, wire.EPERM), 0)
			return noneChunk(b, c)
		}, fails, syscall.EPERM, nil},
		{"error with offset", true, func(b []byte, c uint64) []byte {
			b = chunk(b, done, wire.ReplyErrorOffset, c, 14)
			b = be.AppendUint16(be.AppendUint32(b, wire.EOVERFLOW), 0)
			return be.AppendUint64(b, off)
		}, fails, syscall.EOVERFLOW, nil},
		{"simple error", false, func(b []byte, c uint64) []byte {
			return simple(b, wire.ENOSPC, c)
		}, fails, syscall.ENOSPC, nil},
	}
}()

// TestMisbehavingServerReads: whatever a backing server answers to a
// read, the driver returns either the disk's bytes or an error: EIO for
// a reply that breaks the protocol (and the connection is given up, so
// the next read fails too), the server's errno for an error chunk (and
// the connection goes on).
func TestMisbehavingServerReads(t *testing.T) {
	for _, tc := range misbehavingReads {
		t.Run(tc.name, func(t *testing.T) {
			d := dialScripted(t, tc.structured, func(i int, r wire.Request, b []byte) []byte {
				if i == 0 {
					return tc.reply(b, r.Cookie)
				}
				return honest(tc.structured)(i, r, b)
			})
			want := tc.data
			if want == nil {
				want = pattern[readOff : readOff+readLen]
			}
			// Stale bytes in the buffer, so that a hole left unzeroed shows.
			buf := bytes.Repeat([]byte{0xEE}, readLen)
			err := d.ReadV([][]byte{buf}, readOff)
			switch tc.want {
			case succeeds:
				if err != nil || !bytes.Equal(buf, want) {
					t.Fatalf("read: err = %v, right bytes %v; want success", err, bytes.Equal(buf, want))
				}
			case violates:
				if !errors.Is(err, syscall.EIO) {
					t.Fatalf("read: err = %v; want EIO", err)
				}
			case fails:
				if !errors.Is(err, tc.errno) {
					t.Fatalf("read: err = %v; want %v", err, tc.errno)
				}
			}
			// A reply that broke the protocol ends the connection; an
			// error the server reported does not.
			err = d.ReadV([][]byte{buf}, readOff)
			if tc.want == violates && !errors.Is(err, syscall.EIO) {
				t.Errorf("read after a protocol violation: err = %v; want EIO", err)
			}
			if tc.want != violates && (err != nil || !bytes.Equal(buf, pattern[readOff:readOff+readLen])) {
				t.Errorf("next read: err = %v; want the disk's bytes", err)
			}
		})
	}
}

// outcome is what a scripted reply must come to.
type outcome int

const (
	succeeds outcome = iota // the disk's bytes
	violates                // EIO, and the connection is given up
	fails                   // the server's errno; the connection goes on
)

// statusLen is the length every block status case asks about.
const statusLen = 8192

// statusCase is a reply to block status of statusLen bytes at 0, and
// what the driver must make of it.
type statusCase struct {
	name  string
	reply func(b []byte, cookie uint64) []byte
	want  outcome
	errno syscall.Errno
}

var misbehavingStatus = func() []statusCase {
	const n = statusLen
	return []statusCase{
		{"one extent", func(b []byte, c uint64) []byte {
			return statusChunk(b, done, c, n, 0)
		}, succeeds, 0},
		{"another context first", func(b []byte, c uint64) []byte {
			b = chunk(b, 0, wire.ReplyBlockStatus, c, 12)
			b = be.AppendUint32(be.AppendUint32(be.AppendUint32(b, 9), n), wire.StateHole)
			return statusChunk(b, done, c, n, 0)
		}, succeeds, 0},
		{"two chunks for one context", func(b []byte, c uint64) []byte {
			b = statusChunk(b, 0, c, n/2, 0)
			return statusChunk(b, done, c, n/2, 0)
		}, violates, 0},
		{"empty descriptor", func(b []byte, c uint64) []byte {
			return statusChunk(b, done, c, 0, 0, n, 0)
		}, violates, 0},
		{"half a descriptor", func(b []byte, c uint64) []byte {
			return statusChunk(b, done, c, n, 0, 512)
		}, violates, 0},
		{"more descriptors than bytes", func(b []byte, c uint64) []byte {
			desc := make([]uint32, 2*(n+1))
			for i := range desc {
				desc[i] = uint32(1 - i%2) // (1, 0) pairs
			}
			return statusChunk(b, done, c, desc...)
		}, violates, 0},
		{"data chunk", func(b []byte, c uint64) []byte {
			return dataChunk(b, done, c, 0, 512)
		}, violates, 0},
		{"error chunk", func(b []byte, c uint64) []byte {
			return errorChunk(b, done, c, wire.ENOTSUP, "")
		}, fails, syscall.EOPNOTSUPP},
		{"no extents", noneChunk, fails, syscall.EIO},
	}
}()

// TestMisbehavingServerBlockStatus: block status replies that break the
// protocol fail with EIO and end the connection; they never turn into an
// allocation map.
func TestMisbehavingServerBlockStatus(t *testing.T) {
	for _, tc := range misbehavingStatus {
		t.Run(tc.name, func(t *testing.T) {
			d := dialScripted(t, true, func(i int, r wire.Request, b []byte) []byte {
				if i == 0 {
					return tc.reply(b, r.Cookie)
				}
				return honest(true)(i, r, b)
			})
			all := []disk.Extent{{Offset: 0, Length: statusLen}}
			ext, err := d.Extents(nil, 0, statusLen)
			switch tc.want {
			case succeeds:
				if err != nil || !slices.Equal(ext, all) {
					t.Fatalf("Extents = %v, %v; want %v", ext, err, all)
				}
			case violates:
				if !errors.Is(err, syscall.EIO) {
					t.Fatalf("Extents: err = %v; want EIO", err)
				}
			case fails:
				if !errors.Is(err, tc.errno) {
					t.Fatalf("Extents: err = %v; want %v", err, tc.errno)
				}
			}
			ext, err = d.Extents(nil, 0, statusLen)
			if tc.want == violates && !errors.Is(err, syscall.EIO) {
				t.Errorf("Extents after a protocol violation: err = %v; want EIO", err)
			}
			if tc.want != violates && (err != nil || !slices.Equal(ext, all)) {
				t.Errorf("next Extents = %v, %v; want %v", ext, err, all)
			}
		})
	}
}
