package ublk

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/uring"
	"gotap.dev/libvhd/vhdtest"
)

// inline is an Export that completes every request within Submit, as a
// VBD refusing it does, failing it with err.
type inline struct {
	rg    *ring.Ring
	last  ring.Request // what the last request asked
	calls int
	err   error
}

func (e *inline) Size() int64      { return 1 << 30 }
func (e *inline) Caps() disk.Caps  { return disk.Caps{} }
func (e *inline) Ring() *ring.Ring { return e.rg }
func (e *inline) Submit(req *ring.Request) {
	e.calls++
	e.last.Op, e.last.Flags, e.last.Offset, e.last.Length, e.last.Buf = req.Op, req.Flags, req.Offset, req.Length, req.Buf
	req.Err = e.err
	req.Owner.Complete(req)
}

// testQueue is a queue served by hand on this goroutine: descriptors in
// memory, commands to no device (they complete with EBADF).
func testQueue(t testing.TB, e *inline) *queue { return testQueueOf(t, e, e) }

// testQueueOf is testQueue for an export that wraps e.
func testQueueOf(t testing.TB, exp Export, e *inline) *queue {
	t.Helper()
	const depth, maxIO = 4, 64 << 10
	r, err := uring.New(depth+1, uring.SetupSQE128)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		if vhdtest.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue(1, depth, maxIO, -1, exp, slog.New(slog.DiscardHandler))
	q.ring, q.descs, q.bufs = r, make([]byte, descsSize(depth, 4096)), make([]byte, depth*maxIO)
	if q.efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); q.closeWake() })
	e.rg = ring.New(8, 4096)
	return q
}

// putDesc writes tag's descriptor, as the kernel does before it
// completes the tag's fetch.
func putDesc(q *queue, tag uint16, d desc) {
	b := q.descs[int(tag)*descSize:]
	binary.LittleEndian.PutUint32(b, d.opFlags)
	binary.LittleEndian.PutUint32(b[4:], d.sectors)
	binary.LittleEndian.PutUint64(b[8:], d.start)
}

// serveOne has the kernel hand tag the request d (its descriptor
// written, its fetch completed), lets the queue handle it and commit
// it, and returns the user data of the commit's completion.
func serveOne(t testing.TB, q *queue, tag uint16, d desc) uint64 {
	putDesc(q, tag, d)
	q.fetched(tag, 0)
	q.commitDone()
	if _, err := q.ring.SubmitAndWait(1); err != nil {
		t.Fatal(err)
	}
	e := q.ring.PeekCQE()
	data := e.UserData
	q.ring.SeenCQE()
	return data
}

// TestServeRequest: a request goes to the Export with the tag's buffer,
// its result is committed for its tag, and its slot goes back.
func TestServeRequest(t *testing.T) {
	for _, tc := range []struct {
		name    string
		d       desc
		err     error
		want    int32
		refused bool // committed without reaching the Export
	}{
		{"read", desc{opFlags: opRead, sectors: 8, start: 8}, nil, 4096, false},
		{"FUA write", desc{opFlags: opWrite | flagFUA, sectors: 128}, nil, 64 << 10, false},
		{"flush", desc{opFlags: opFlush}, nil, 0, false},
		{"failed write", desc{opFlags: opWrite, sectors: 1}, syscall.ENOSPC, -int32(syscall.ENOSPC), false},
		{"write same", desc{opFlags: 4, sectors: 1}, nil, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &inline{err: tc.err}
			q := testQueue(t, e)
			const tag = 2
			if data := serveOne(t, q, tag, tc.d); data != tag {
				t.Fatalf("commit's user data %d; want tag %d", data, tag)
			}
			if reached := e.calls > 0; reached == tc.refused {
				t.Errorf("reached the Export: %v; want %v", reached, !tc.refused)
			}
			if got := q.results[tag]; !tc.refused && got != tc.want {
				t.Errorf("committed %d; want %d", got, tc.want)
			}
			if e.rg.InUse() != 0 {
				t.Errorf("%d ring slots still taken", e.rg.InUse())
			}
			if tc.d.op() == opRead || tc.d.op() == opWrite {
				if buf := q.buf(tag); &e.last.Buf[0] != &buf[0] || e.last.Offset != int64(tc.d.start)*512 {
					t.Errorf("request at %d not in tag %d's buffer", e.last.Offset, tag)
				}
			}
		})
	}
}

// TestServeNoAllocation: serving a request allocates nothing.
func TestServeNoAllocation(t *testing.T) {
	q := testQueue(t, &inline{})
	d := desc{opFlags: opWrite, sectors: 8}
	if n := testing.AllocsPerRun(1000, func() { serveOne(t, q, 1, d) }); n != 0 {
		t.Errorf("%v allocations per request; want 0", n)
	}
}

// batching is an inline export that takes batches, and records their
// sizes.
type batching struct {
	*inline
	sizes []int
}

func (b *batching) SubmitBatch(reqs []*ring.Request) {
	b.sizes = append(b.sizes, len(reqs))
	for _, req := range reqs {
		b.Submit(req)
	}
}

// TestFetchedBatch: the requests one wait fetched go to an export that
// takes batches together, once the wait's completions are handled.
func TestFetchedBatch(t *testing.T) {
	e := &inline{}
	b := &batching{inline: e}
	q := testQueueOf(t, b, e)
	for tag := range uint16(3) {
		putDesc(q, tag, desc{opFlags: opRead, sectors: 8, start: uint64(tag) * 8})
		q.fetched(tag, 0)
	}
	if e.calls != 0 {
		t.Fatalf("%d requests submitted before the batch", e.calls)
	}
	q.batch.Submit()
	if e.calls != 3 || len(b.sizes) != 1 || b.sizes[0] != 3 {
		t.Errorf("%d requests in batches of %v; want one batch of 3", e.calls, b.sizes)
	}
	q.commitDone()
}
