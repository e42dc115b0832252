package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/vbd"
)

// fakeDevice is a block device that records its close.
type fakeDevice struct {
	path   string
	closed bool
}

func (f *fakeDevice) Path() string { return f.path }

func (f *fakeDevice) Close(time.Duration) error {
	f.closed = true
	return nil
}

// withFrontend makes the nbd frontend's attach the test's own.
func withFrontend(t *testing.T, attach func(req control.OpenRequest) (blockDevice, error)) {
	t.Helper()
	saved := blockFrontends[control.FrontendNBD]
	blockFrontends[control.FrontendNBD] = func(_ *daemon, _ *frontends, _ *vbd.VBD, req control.OpenRequest) (blockDevice, error) {
		return attach(req)
	}
	t.Cleanup(func() { blockFrontends[control.FrontendNBD] = saved })
}

// TestBlockFrontend: a frontend's device is in the open's reply and in
// stats, and goes with close; a frontend that fails leaves no minor and
// no socket, with its errno.
func TestBlockFrontend(t *testing.T) {
	ctx := context.Background()
	t.Run("served", func(t *testing.T) {
		dev := &fakeDevice{path: "/dev/nbd7"}
		var got control.OpenRequest
		withFrontend(t, func(req control.OpenRequest) (blockDevice, error) { got = req; return dev, nil })
		d := testDaemon(t, time.Second)
		req := control.OpenRequest{Minor: 2, Image: "ram:1M", Frontend: control.FrontendNBD, Device: "/dev/nbd7"}
		rep, err := d.Open(ctx, req)
		if err != nil || rep.Device != "/dev/nbd7" || rep.URI == "" {
			t.Fatalf("Open = %+v, %v; want /dev/nbd7 beside the URI", rep, err)
		}
		if got.Device != "/dev/nbd7" {
			t.Errorf("the frontend was asked for %q; want /dev/nbd7", got.Device)
		}
		if info, err := d.Stats(ctx, 2); err != nil || info.Device != "/dev/nbd7" {
			t.Errorf("Stats = %+v, %v; want device /dev/nbd7", info, err)
		}
		if err := d.Close(ctx, 2); err != nil || !dev.closed {
			t.Errorf("Close = %v, device closed %v; want nil, true", err, dev.closed)
		}
		if info, _ := d.Stats(ctx, 2); info.Device != "" {
			t.Errorf("closed minor's device %q; want none", info.Device)
		}
	})
	t.Run("refused", func(t *testing.T) {
		withFrontend(t, func(control.OpenRequest) (blockDevice, error) {
			return nil, control.Errorf(syscall.ENODEV, "no nbd.ko: modprobe nbd")
		})
		d := testDaemon(t, time.Second)
		_, err := d.Open(ctx, control.OpenRequest{Minor: 2, Image: "ram:1M", Frontend: control.FrontendNBD})
		if !errors.Is(err, syscall.ENODEV) || !strings.Contains(err.Error(), "modprobe nbd") {
			t.Fatalf("Open = %v; want ENODEV saying modprobe nbd", err)
		}
		if infos, _ := d.List(ctx); len(infos) != 0 {
			t.Errorf("after the refusal, List = %+v; want nothing", infos)
		}
		if _, err := os.Stat(d.dir.NBD(d.pid, 2)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after the refusal, the NBD socket: %v; want it gone", err)
		}
	})
}

func TestCheckFrontend(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  control.OpenRequest
		want error
	}{
		{"none", control.OpenRequest{}, nil},
		{"none by name", control.OpenRequest{Frontend: "none"}, nil},
		{"nbd", control.OpenRequest{Frontend: "nbd"}, nil},
		{"nbd on a device", control.OpenRequest{Frontend: "nbd", Device: "/dev/nbd1"}, nil},
		{"nbd recovered", control.OpenRequest{Frontend: "nbd", Device: "/dev/nbd1", Recover: true}, nil},
		{"unknown", control.OpenRequest{Frontend: "scsi"}, syscall.EINVAL},
		{"device without a frontend", control.OpenRequest{Device: "/dev/nbd1"}, syscall.EINVAL},
		{"recover without a frontend", control.OpenRequest{Recover: true}, syscall.EINVAL},
		{"recover without a device", control.OpenRequest{Frontend: "nbd", Recover: true}, syscall.EINVAL},
	} {
		if err := checkFrontend(tc.req); (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: checkFrontend = %v; want %v", tc.name, err, tc.want)
		}
	}
}

// TestFrontendFlags: the command line's refusals of device options.
func TestFrontendFlags(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--device", "/dev/nbd0", "ram:1M"}, "need --frontend nbd"},
		{[]string{"--recover", "ram:1M"}, "need --frontend nbd"},
		{[]string{"--frontend", "nbd", "--recover", "ram:1M"}, "--recover needs the --device"},
		{[]string{"--frontend", "nbd", "--device", "/dev/nbd0", "ram:1M", "ram:1M"}, "one image, not 2"},
		{[]string{"--frontend", "nbd", "--nbd-conns", "0", "ram:1M"}, "--nbd-conns 0"},
		{[]string{"--frontend", "scsi", "ram:1M"}, "--frontend"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), tc.args, &stdout, &stderr)
		if code != exitUsage || !strings.Contains(stderr.String(), tc.wantErr) {
			t.Errorf("run(%q) = %d, stderr %q; want %d saying %q", tc.args, code, stderr.String(), exitUsage, tc.wantErr)
		}
	}
}
