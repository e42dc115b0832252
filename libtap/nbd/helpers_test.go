package nbd_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/vbd"
	"gotap.dev/libvhd"
)

// served is an export on a Unix socket in the test's temporary directory.
type served struct {
	v    *vbd.VBD
	srv  *nbd.Server
	sock string
}

// uri is the libnbd URI of the export.
func (s *served) uri() string { return "nbd+unix:///?socket=" + s.sock }

// serve opens spec as a VBD and serves it; cleanup shuts down and closes.
func serve(t testing.TB, spec string) *served {
	t.Helper()
	return serveOpened(t, spec, false)
}

// serveOpened is serve with buffered I/O where noDirect is set.
func serveOpened(t testing.TB, spec string, noDirect bool) *served {
	t.Helper()
	opts := vbd.Options{RingSlots: 64, SlotBuf: 128 << 10}
	opts.Drivers.NoDirect = noDirect
	v, err := vbd.Open(0, spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	return serveVBD(t, v, nbd.Options{})
}

// serveVBD serves v as "disk" on a Unix socket; cleanup shuts the server
// down, checks every slot came back, and closes v.
func serveVBD(t testing.TB, v *vbd.VBD, opts nbd.Options) *served {
	t.Helper()
	s := &served{v: v, srv: nbd.NewServer(opts), sock: filepath.Join(t.TempDir(), "nbd.sock")}
	s.srv.Add("disk", v)
	ln, err := net.Listen("unix", s.sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
		if n := v.Ring().InUse(); n != 0 {
			t.Errorf("after shutdown %d ring slots in use; want 0", n)
		}
		if err := v.Close(context.Background()); err != nil {
			t.Errorf("close vbd: %v", err)
		}
	})
	return s
}

// rawDisk makes a sparse raw file.
func rawDisk(t testing.TB, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.raw")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	return p
}

// vhdDisk makes a dynamic VHD, or a differencing one over parent.
func vhdDisk(t testing.TB, dir, name string, size int64, parent string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	im, err := libvhd.Create(p, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: size, Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// settleGoroutines waits for the goroutine count to come back to base.
func settleGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines; want at most %d\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
