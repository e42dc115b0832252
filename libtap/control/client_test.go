package control

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
)

// dialFake serves h and returns a client of it.
func dialFake(t *testing.T, h Handler) *Client {
	t.Helper()
	c, err := Dial(serve(t, h, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect() })
	return c
}

func TestClient(t *testing.T) {
	c := dialFake(t, newFake())
	ctx := context.Background()

	if pid, err := c.Pid(ctx); err != nil || pid <= 0 {
		t.Errorf("Pid() = %d, %v", pid, err)
	}
	if err := c.Attach(ctx, 1); err != nil {
		t.Fatal(err)
	}
	rep, err := c.Open(ctx, OpenRequest{Minor: 0, Image: "ram:1M", ReadOnly: true})
	if err != nil || rep.URI == "" {
		t.Fatalf("Open() = %+v, %v", rep, err)
	}
	infos, err := c.List(ctx)
	if err != nil || len(infos) != 2 || infos[0].Image != "ram:1M" || infos[1].State != wire.Closed {
		t.Errorf("List() = %+v, %v; want minor 0 open on ram:1M, minor 1 closed", infos, err)
	}
	steps := []struct {
		name string
		do   func() error
		want error // an errno, or nil
	}{
		{"pause", func() error { return c.Pause(ctx, 0) }, nil},
		{"resume other size", func() error { return c.Resume(ctx, 0, "ram:2M") }, syscall.EMEDIUMTYPE},
		{"resume", func() error { return c.Resume(ctx, 0, "") }, nil},
		{"resume running", func() error { return c.Resume(ctx, 0, "") }, syscall.EINVAL},
		{"pause unattached", func() error { return c.Pause(ctx, 5) }, syscall.ENOENT},
		{"pause closed", func() error { return c.Pause(ctx, 1) }, syscall.ENODEV},
		{"detach open", func() error { return c.Detach(ctx, 0) }, syscall.EBUSY},
		{"close", func() error { return c.Close(ctx, 0) }, nil},
		{"detach", func() error { return c.Detach(ctx, 0) }, nil},
		{"stats detached", func() error { _, err := c.Stats(ctx, 0); return err }, syscall.ENOENT},
		{"bad minor", func() error { return c.Attach(ctx, -3) }, syscall.EINVAL},
	}
	for _, s := range steps {
		err := s.do()
		if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
			t.Errorf("%s: err = %v; want %v", s.name, err, s.want)
		}
		if s.want != nil && disk.Errno(err) != s.want {
			t.Errorf("%s: disk.Errno(%v) = %v; want %v", s.name, err, disk.Errno(err), s.want)
		}
	}
}

func TestClientWatch(t *testing.T) {
	c := dialFake(t, newFake())
	ctx := context.Background()
	for _, m := range []int{0, 1} {
		if _, err := c.Open(ctx, OpenRequest{Minor: m, Image: "ram:1M"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name  string
		minor int
		lines int
	}{{"one minor", 1, 3}, {"all", -1, 2}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seen []int
			err := c.Watch(ctx, tt.minor, 10*time.Millisecond, func(info wire.Info) error {
				seen = append(seen, info.Minor)
				if len(seen) == 4 {
					return ErrStopWatch
				}
				return nil
			})
			if err != nil || len(seen) != 4 || tt.minor >= 0 && seen[3] != tt.minor || tt.minor < 0 && seen[3] != 1 {
				t.Errorf("Watch(%d) saw %v, %v", tt.minor, seen, err)
			}
		})
	}
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := c.Watch(ctx, 0, time.Hour, func(wire.Info) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Watch() = %v; want deadline exceeded", err)
		}
	})
	t.Run("unknown minor", func(t *testing.T) {
		err := c.Watch(ctx, 7, 0, func(wire.Info) error { return nil })
		if !errors.Is(err, syscall.ENOENT) {
			t.Errorf("Watch(7) = %v; want ENOENT", err)
		}
	})
	// The client's own connection was not disturbed.
	if _, err := c.Pid(ctx); err != nil {
		t.Error(err)
	}
}

func TestClientContext(t *testing.T) {
	c := dialFake(t, blockingHandler{newFake()})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Pause(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Pause() = %v; want deadline exceeded", err)
	}
	if _, err := c.Pid(context.Background()); err == nil {
		t.Error("Pid() after an abandoned request succeeded; want the connection marked unusable")
	}
}

// blockingHandler's Pause waits until the server stops.
type blockingHandler struct{ *fakeHandler }

func (blockingHandler) Pause(ctx context.Context, _ int) error {
	<-ctx.Done()
	return ctx.Err()
}
