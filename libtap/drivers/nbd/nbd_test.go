package nbd_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/vbd"
)

// export serves spec over NBD on a Unix socket and returns the socket.
func export(t testing.TB, spec string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "nbd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	serveOn(t, ln, spec)
	return sock
}

// serveOn serves spec over NBD on ln until the test ends (in clear and
// to anyone on TCP: a test's loopback).
func serveOn(t testing.TB, ln net.Listener, spec string) {
	t.Helper()
	v, err := vbd.Open(0, spec, vbd.Options{RingSlots: 16, SlotBuf: 64 << 10})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := nbd.NewServer(nbd.Options{InsecureTCP: true})
	srv.Add("", v)
	go srv.Serve(context.Background(), ln)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		v.Close(context.Background())
	})
}

func TestRoundTripOverRAM(t *testing.T) {
	const size = 8 << 20
	d, err := drivers.Open("nbd:unix:"+export(t, "ram:8M"), drivers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Size() != size {
		t.Fatalf("Size = %d; want %d", d.Size(), size)
	}
	if c := d.Caps(); c.ReadOnly || c.FUA != disk.Native || c.Trim != disk.Native || c.Zero != disk.Native || c.FastZero != disk.Native {
		t.Errorf("Caps = %+v; want writable, native FUA, trim, zero, fast zero", c)
	}
	a, b := bytes.Repeat([]byte{0xA1}, 4096), bytes.Repeat([]byte{0xB2}, 8192)
	if err := d.WriteV([][]byte{a, b}, 1<<20, true); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	ga, gb := make([]byte, len(a)), make([]byte, len(b))
	if err := d.ReadV([][]byte{ga, gb}, 1<<20); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ga, a) || !bytes.Equal(gb, b) {
		t.Fatal("read back differs from what was written")
	}
	if err := d.WriteZeroes(1<<20, 4096, false, false); err != nil {
		t.Fatal(err)
	}
	if err := d.ReadV([][]byte{ga}, 1<<20); err != nil || !bytes.Equal(ga, make([]byte, 4096)) {
		t.Fatalf("after WriteZeroes: err %v, zeros %v", err, bytes.Equal(ga, make([]byte, 4096)))
	}
	if err := d.Trim(2<<20, 1<<20); err != nil {
		t.Fatal(err)
	}
	// A large read is split into requests the server accepts.
	big := make([]byte, size)
	if err := d.ReadV([][]byte{big}, 0); err != nil {
		t.Fatalf("read the whole disk: %v", err)
	}
	if !bytes.Equal(big[1<<20+4096:1<<20+4096+8192], b) {
		t.Error("whole-disk read differs")
	}
	ext, err := d.Extents(nil, 0, size)
	if want := []disk.Extent{{Offset: 0, Length: size}}; err != nil || !slices.Equal(ext, want) {
		t.Errorf("Extents = %v, %v; want %v", ext, err, want)
	}
	// The server's errors come back as errnos.
	if err := d.WriteV([][]byte{a}, size, false); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write past the end: %v; want ENOSPC", err)
	}
	if err := d.ReadV([][]byte{a}, size-512); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("read past the end: %v; want EINVAL", err)
	}
	// and the connection goes on.
	if err := d.ReadV([][]byte{ga}, 0); err != nil {
		t.Errorf("read after errors: %v", err)
	}
}

func TestExtentsOfSparseFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sparse.raw")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Truncate(p, 16<<20)
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt(bytes.Repeat([]byte{1}, 1<<20), 4<<20)
	f.Close()
	d, err := drivers.Open("nbd:unix:"+export(t, "aio:"+p), drivers.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ext, err := d.Extents(nil, 0, 16<<20)
	want := []disk.Extent{
		{Offset: 0, Length: 4 << 20, Hole: true},
		{Offset: 4 << 20, Length: 1 << 20},
		{Offset: 5 << 20, Length: 11 << 20, Hole: true},
	}
	if err != nil || !slices.Equal(ext, want) {
		t.Errorf("Extents = %v, %v; want %v", ext, err, want)
	}
	if !d.Caps().ReadOnly { // the VBD refuses writes on it
		t.Error("opened read-only, Caps().ReadOnly false")
	}
}

// TestVBDOverNBD opens a VBD through the nbd driver on a served VBD.
func TestVBDOverNBD(t *testing.T) {
	v, err := vbd.Open(1, "nbd:unix:"+export(t, "ram:4M"), vbd.Options{RingSlots: 8, SlotBuf: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	if v.Size() != 4<<20 {
		t.Fatalf("Size = %d", v.Size())
	}
}

func TestOpenRefusesNonServer(t *testing.T) {
	if _, err := drivers.Open("nbd:unix:"+filepath.Join(t.TempDir(), "none.sock"), drivers.Options{}); err == nil {
		t.Error("opened a socket that does not exist")
	}
}

// TestVBDPipelinesOverNBD: a VBD over the nbd driver, its scheduler
// starting requests on the driver (sched.Starter), alone and in batches
// held back for one write: what 32 requests at once write reads back.
func TestVBDPipelinesOverNBD(t *testing.T) {
	const n, size = 32, 4096
	for _, batch := range []bool{false, true} {
		v, err := vbd.Open(1, "nbd:unix:"+export(t, "ram:4M"), vbd.Options{RingSlots: n, SlotBuf: 64 << 10})
		if err != nil {
			t.Fatal(err)
		}
		done := make(completer, n)
		// run submits n requests of op, block i at i*3*size, fill
		// preparing each, and returns them completed, in order of block.
		run := func(op ring.Op, fill func(i int, b []byte)) []*ring.Request {
			reqs := make([]*ring.Request, n)
			for i := range reqs {
				req, err := v.Ring().Get(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				req.Op, req.Offset, req.Length, req.Owner = op, int64(i)*3*size, size, done
				fill(i, req.Data(size))
				reqs[i] = req
			}
			if batch {
				v.SubmitBatch(slices.Clone(reqs))
			} else {
				for _, req := range reqs {
					v.Submit(req)
				}
			}
			for range n {
				if r := <-done; r.Err != nil {
					t.Fatalf("batch %v, op %v at %d: %v", batch, op, r.Offset, r.Err)
				}
			}
			return reqs
		}
		for _, req := range run(ring.Write, func(i int, b []byte) {
			for j := range b {
				b[j] = byte(i*31 + j)
			}
		}) {
			v.Ring().Put(req)
		}
		for i, req := range run(ring.Read, func(_ int, b []byte) { clear(b) }) {
			b := req.Data(size)
			for j := range b {
				if b[j] != byte(i*31+j) {
					t.Fatalf("batch %v: block %d reads back wrong at byte %d", batch, i, j)
				}
			}
			v.Ring().Put(req)
		}
		v.Close(context.Background())
	}
}
