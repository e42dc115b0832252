package uring

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/ring"
	"gotap.dev/libvhd/vhdtest"
)

// newRing sets up a ring or skips where io_uring is unavailable (failing
// in CI, where it must be there).
func newRing(t testing.TB, entries, flags uint32) *Ring {
	t.Helper()
	r, err := New(entries, flags)
	if errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM) {
		if vhdtest.InCI() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestNops: entries go in, completions come back with their user data,
// in 64- and 128-byte layouts, across several wraps of the rings.
func TestNops(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint32
	}{{"64-byte", 0}, {"128-byte", SetupSQE128}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, 8, tc.flags)
			if err := r.Supported(OpNop, OpReadFixed, OpWriteFixed, OpReadv, OpWritev, OpFsync); err != nil {
				t.Fatal(err)
			}
			var next uint64
			for range 10 {
				for i := range r.Entries() {
					e := r.SQE()
					if e == nil {
						t.Fatalf("queue full after %d entries of %d", i, r.Entries())
					}
					e.Opcode, e.UserData = OpNop, next+uint64(i)
				}
				if r.SQE() != nil {
					t.Fatal("an entry handed out past the queue's size")
				}
				if _, err := r.SubmitAndWait(r.Entries()); err != nil {
					t.Fatal(err)
				}
				for range r.Entries() {
					c := r.PeekCQE()
					if c == nil || c.UserData != next || c.Res != 0 {
						t.Fatalf("completion %+v; want user data %d, res 0", c, next)
					}
					r.SeenCQE()
					next++
				}
				if c := r.PeekCQE(); c != nil {
					t.Fatalf("an extra completion: %+v", c)
				}
			}
		})
	}
}

// TestCmdArea: with 128-byte entries, Cmd spans the entry's last 80 bytes
// and a new entry starts zeroed there too.
func TestCmdArea(t *testing.T) {
	r := newRing(t, 2, SetupSQE128)
	e := r.SQE()
	e.PrepURingCmd(3, 0x20)
	cmd := e.Cmd()
	if len(cmd) != 80 {
		t.Fatalf("len(Cmd) = %d; want 80", len(cmd))
	}
	for i := range cmd {
		cmd[i] = 0xff
	}
	next := r.SQE()
	if next.Opcode != 0 || next.Cmd()[0] != 0 {
		t.Fatal("a 128-byte entry overlaps its neighbour")
	}
	if e.Opcode != OpURingCmd || e.Off != 0x20 || e.FD != 3 {
		t.Fatalf("URING_CMD entry: %+v", e)
	}
}

func TestUnsupportedOp(t *testing.T) {
	r := newRing(t, 2, 0)
	if err := r.Supported(OpRead, 255); !errors.Is(err, unix.ENOSYS) {
		t.Fatalf("Supported(255) = %v; want ENOSYS", err)
	}
}

// newQueue sets up a Queue over a file of size bytes, with the buffers
// of a request ring registered.
func newQueue(t testing.TB, size int64) (*Queue, *os.File, *ring.Ring) {
	t.Helper()
	newRing(t, 2, 0) // skips where io_uring is missing
	rg := ring.New(4, 1<<20)
	q, err := NewQueue(32, rg.Memory())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	if !q.HasFixed() {
		t.Fatal("the ring's buffers were not registered")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "disk"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return q, f, rg
}

// do runs one prepared call and fails the test unless it moved want bytes.
func do(t testing.TB, q *Queue, c *Call, want int) {
	res, err := q.Run(c)
	q.Put(c)
	if err != nil || int(res) != want {
		t.Errorf("res %d, err %v; want %d", res, err, want)
	}
}

// TestQueueIO: fixed, plain and vectored reads and writes and a
// datasync, from many goroutines at once, each checking its own data.
func TestQueueIO(t *testing.T) {
	q, f, rg := newQueue(t, 64<<20)
	fd := int(f.Fd())
	heap := ring.AlignedBuffer(4096) // not registered
	if q.Fixed(heap) {
		t.Fatal("a heap buffer taken for a registered one")
	}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			off := int64(g) << 20
			want, got := bytes.Repeat([]byte{byte(g)}, 8192), make([]byte, 8192)
			fixed := rg.Memory()[g*4096:][:4096]
			copy(fixed, want)
			c := q.Get()
			c.SQE().PrepFixed(OpWriteFixed, fd, fixed, off, 0)
			do(t, q, c, 4096)
			c = q.Get()
			c.SQE().PrepBuf(OpWrite, fd, want[4096:], off+4096)
			do(t, q, c, 4096)
			c = q.Get()
			c.SQE().PrepFsync(fd, FsyncDatasync)
			do(t, q, c, 0)
			c = q.Get()
			c.SQE().PrepVec(OpReadv, fd, c.Iovecs([][]byte{got[:100], got[100:]}), off)
			do(t, q, c, 8192)
			if !bytes.Equal(got, want) {
				t.Errorf("goroutine %d read back other data", g)
			}
		})
	}
	wg.Wait()
	c := q.Get()
	c.SQE().PrepBuf(OpRead, -1, heap, 0)
	if res, err := q.Run(c); err != nil || res != -int32(unix.EBADF) {
		t.Errorf("read of fd -1: res %d, err %v; want -EBADF", res, err)
	}
	q.Put(c)
}

// BenchmarkQueueRead: a 4 KiB fixed read from the page cache through a
// Queue, allocating nothing.
func BenchmarkQueueRead(b *testing.B) {
	q, f, rg := newQueue(b, 1<<20)
	buf := rg.Memory()[:4096]
	b.ReportAllocs()
	for b.Loop() {
		c := q.Get()
		c.SQE().PrepFixed(OpReadFixed, int(f.Fd()), buf, 0, 0)
		if res, err := q.Run(c); err != nil || res != 4096 {
			b.Fatal(res, err)
		}
		q.Put(c)
	}
}
