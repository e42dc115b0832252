package control

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/stats"
)

// fakeHandler keeps minors as Infos and applies blktap's state rules,
// without disks.
type fakeHandler struct {
	mu     sync.Mutex
	minors map[int]*wire.Info
}

func newFake() *fakeHandler { return &fakeHandler{minors: map[int]*wire.Info{}} }

func (f *fakeHandler) List(context.Context) ([]wire.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var infos []wire.Info
	for _, m := range slices.Sorted(maps.Keys(f.minors)) {
		infos = append(infos, *f.minors[m])
	}
	return infos, nil
}

func (f *fakeHandler) Attach(_ context.Context, minor int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.minors[minor] != nil {
		return Errorf(syscall.EEXIST, "minor %d is attached", minor)
	}
	f.minors[minor] = &wire.Info{Minor: minor, State: wire.Closed}
	return nil
}

func (f *fakeHandler) Open(ctx context.Context, req OpenRequest) (OpenReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.minors[req.Minor]
	if info == nil {
		info = &wire.Info{Minor: req.Minor}
		f.minors[req.Minor] = info
	} else if info.State&wire.Closed == 0 {
		return OpenReply{}, Errorf(syscall.EBUSY, "minor %d is open", req.Minor)
	}
	info.Image, info.State, info.ReadOnly = req.Image, 0, req.ReadOnly
	return OpenReply{Minor: req.Minor, Socket: "/nbd", URI: "nbd+unix:///?socket=/nbd"}, nil
}

// change applies fn to an attached minor's Info.
func (f *fakeHandler) change(minor int, fn func(*wire.Info) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := f.minors[minor]
	if info == nil {
		return Errorf(syscall.ENOENT, "minor %d is not attached", minor)
	}
	return fn(info)
}

func (f *fakeHandler) Pause(_ context.Context, minor int) error {
	return f.change(minor, func(i *wire.Info) error {
		if i.State&wire.Closed != 0 {
			return syscall.ENODEV
		}
		i.State |= wire.Paused
		return nil
	})
}

func (f *fakeHandler) Resume(_ context.Context, minor int, image string) error {
	return f.change(minor, func(i *wire.Info) error {
		if i.State&wire.Paused == 0 {
			return Errorf(syscall.EINVAL, "minor %d is not paused", minor)
		}
		if image == "ram:2M" { // the fake's disks are 1M
			return Errorf(syscall.EMEDIUMTYPE, "%s: size differs", image)
		}
		i.State &^= wire.Paused
		return nil
	})
}

func (f *fakeHandler) Close(_ context.Context, minor int) error {
	return f.change(minor, func(i *wire.Info) error {
		i.State, i.Image = wire.Closed, ""
		return nil
	})
}

func (f *fakeHandler) Detach(_ context.Context, minor int) error {
	return f.change(minor, func(i *wire.Info) error {
		if i.State&wire.Closed == 0 {
			return Errorf(syscall.EBUSY, "minor %d is open", minor)
		}
		delete(f.minors, minor)
		return nil
	})
}

func (f *fakeHandler) Stats(_ context.Context, minor int) (wire.Info, error) {
	var info wire.Info
	err := f.change(minor, func(i *wire.Info) error {
		i.Stats.Reads++ // so that a watch sees figures move
		info = *i
		return nil
	})
	return info, err
}

// SetRate takes "rbps=N" only: enough to see requests and replies go
// through.
func (f *fakeHandler) SetRate(_ context.Context, minor int, limits string) (stats.Limits, error) {
	var l stats.Limits
	err := f.change(minor, func(i *wire.Info) error {
		if _, err := fmt.Sscanf(limits, "rbps=%d", &l.ReadBPS); err != nil {
			return Errorf(syscall.EINVAL, "limits %q: %v", limits, err)
		}
		i.Valve = &stats.Valve{Limits: l}
		return nil
	})
	return l, err
}

// Coalesce answers for an open minor as if one layer of 8 sectors was
// merged.
func (f *fakeHandler) Coalesce(_ context.Context, minor, top, base int) (wire.Coalesced, error) {
	var r wire.Coalesced
	err := f.change(minor, func(i *wire.Info) error {
		if i.State&wire.Closed != 0 {
			return Errorf(syscall.ENODEV, "minor %d is closed", minor)
		}
		r = wire.Coalesced{Sectors: 8, Merged: []string{fmt.Sprintf("layer%d", top)}}
		return nil
	})
	return r, err
}

// serve starts a Server for h on a socket in dir, stopped at cleanup.
func serve(t *testing.T, h Handler, dir string) string {
	t.Helper()
	return serveWith(t, h, dir, Options{})
}

// serveWith is serve with opts.
func serveWith(t *testing.T, h Handler, dir string, opts Options) string {
	t.Helper()
	path := dir + "/ctl1"
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		NewServer(h, opts).Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Serve() still running 10 s after its context ended")
		}
	})
	return path
}
