package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// newVHD creates a dynamic VHD of size bytes.
func newVHD(t *testing.T, size int64) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "disk.vhd")
	im, err := libvhd.Create(path, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServeControlAndShutdown(t *testing.T) {
	vhd := newVHD(t, 16<<20)
	dir := t.TempDir()
	p := start(t, dir, []string{"vhd:" + vhd, "ram:4M"})
	pid := p.cmd.Process.Pid
	if want := filepath.Join(dir, "ctl"+strconv.Itoa(pid)); p.ctl != want {
		t.Errorf("first line = %q; want %q", p.ctl, want)
	}
	for minor, uri := range p.uris {
		sock := filepath.Join(dir, "nbd"+strconv.Itoa(pid)+"."+strconv.Itoa(minor))
		if want := "nbd+unix:///?socket=" + sock; uri != want {
			t.Errorf("URI of minor %d = %q; want %q", minor, uri, want)
		}
		if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("socket of minor %d: %v, %v; want mode 0600", minor, fi.Mode(), err)
		}
	}

	// Data written over NBD, some of it while the VBD is paused.
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", "write -P 0xab 1M 64k", p.uris[0])
	c := p.client(t)
	ctx := context.Background()
	if got, err := c.Pid(ctx); err != nil || got != pid {
		t.Errorf("Pid() = %d, %v; want %d", got, err, pid)
	}
	infos, err := c.List(ctx)
	if err != nil || len(infos) != 2 || infos[0].Image != "vhd:"+vhd || infos[1].Image != "ram:4M" {
		t.Fatalf("List() = %+v, %v", infos, err)
	}
	if infos[0].Stats.WriteBytes != 64<<10 {
		t.Errorf("write_bytes = %d; want %d", infos[0].Stats.WriteBytes, 64<<10)
	}
	if err := c.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if info, err := c.Stats(ctx, 0); err != nil || info.State&wire.Paused == 0 {
		t.Errorf("Stats() after pause = state %v, %v; want paused", info.State, err)
	}
	written := make(chan error, 1)
	qemuIO := vhdtest.RequireTool(t, "qemu-io")
	go func() {
		written <- exec.Command(qemuIO, "-f", "raw", "-c", "write -P 0xcd 3M 4k", p.uris[0]).Run()
	}()
	select {
	case err := <-written:
		t.Fatalf("a write completed while paused (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := c.Resume(ctx, 0, "ram:4M"); !errors.Is(err, syscall.EMEDIUMTYPE) {
		t.Errorf("Resume(ram:4M) = %v; want EMEDIUMTYPE", err)
	}
	if err := c.Resume(ctx, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := <-written; err != nil {
		t.Errorf("write held during the pause: %v", err)
	}

	var seen []wire.Info
	err = c.Watch(ctx, 0, 20*time.Millisecond, func(info wire.Info) error {
		if seen = append(seen, info); len(seen) == 3 {
			return control.ErrStopWatch
		}
		return nil
	})
	if err != nil || seen[2].Stats.WriteBytes != 68<<10 || seen[2].State != 0 {
		t.Errorf("Watch() = %v; last %+v; want 3 lines, 68 KiB written, running", err, seen)
	}
	if err := c.Close(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.uris[1][len("nbd+unix:///?socket="):]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("NBD socket of a closed minor: %v; want it removed", err)
	}
	if err := c.Detach(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Detach(ctx, 0); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Detach(open minor) = %v; want EBUSY", err)
	}

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status after SIGTERM = %d; want 0", code)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*"+strconv.Itoa(pid)+"*")); len(left) != 0 {
		t.Errorf("sockets left after exit: %v", left)
	}
	problems, err := libvhd.Check(vhd, libvhd.CheckOptions{})
	if err != nil || len(problems) != 0 {
		t.Fatalf("Check(%s) = %v, %v", vhd, problems, err)
	}
	readBack(t, vhd, 1<<20, bytes.Repeat([]byte{0xab}, 64<<10))
	readBack(t, vhd, 3<<20, bytes.Repeat([]byte{0xcd}, 4<<10))
}

// readBack checks that the image holds want at off.
func readBack(t *testing.T, path string, off int64, want []byte) {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	got := make([]byte, len(want))
	if _, err := im.ReadAt(got, off); err != nil || !bytes.Equal(got, want) {
		t.Errorf("ReadAt(%d): %v; the data written over NBD is not there", off, err)
	}
}

func TestExitsAfterLastDetach(t *testing.T) {
	p := start(t, t.TempDir(), nil)
	c := p.client(t)
	ctx := context.Background()
	rep, err := c.Open(ctx, control.OpenRequest{Minor: 5, Image: "ram:1M"})
	if err != nil || rep.URI != "nbd+unix:///?socket="+rep.Socket {
		t.Fatalf("Open() = %+v, %v", rep, err)
	}
	if err := c.Close(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if !p.alive() {
		t.Fatal("tapdisk exited with a minor still attached")
	}
	if err := c.Detach(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 0 {
		t.Errorf("exit status after the last detach = %d; want 0", code)
	}
}

func TestOpenFailures(t *testing.T) {
	p := start(t, t.TempDir(), []string{"ram:1M"})
	c := p.client(t)
	ctx := context.Background()
	tests := []struct {
		name string
		req  control.OpenRequest
		want syscall.Errno
	}{
		{"missing file", control.OpenRequest{Minor: 1, Image: "aio:/nonexistent/disk"}, syscall.ENOENT},
		{"minor busy", control.OpenRequest{Minor: 0, Image: "ram:1M"}, syscall.EBUSY},
		{"bad type", control.OpenRequest{Minor: 1, Image: "qcow:/x"}, syscall.EINVAL},
	}
	for _, tt := range tests {
		if _, err := c.Open(ctx, tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: Open() = %v; want %v", tt.name, err, tt.want)
		}
	}
	// A failed open leaves no minor behind.
	if infos, err := c.List(ctx); err != nil || len(infos) != 1 {
		t.Errorf("List() after failed opens = %+v, %v; want minor 0 only", infos, err)
	}
}

// TestShutdownWhilePaused: a write held by a paused VBD cannot complete,
// so SIGTERM fails it (rather than waiting forever) and still exits 0,
// leaving a valid image.
func TestShutdownWhilePaused(t *testing.T) {
	qemuIO := vhdtest.RequireTool(t, "qemu-io")
	vhd := newVHD(t, 8<<20)
	p := start(t, t.TempDir(), []string{"vhd:" + vhd})
	if err := p.client(t).Pause(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	held := make(chan error, 1)
	go func() { held <- exec.Command(qemuIO, "-f", "raw", "-c", "write -P 0xee 0 4k", p.uris[0]).Run() }()
	time.Sleep(200 * time.Millisecond)
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status = %d; want 0", code)
	}
	if err := <-held; err == nil {
		t.Error("the write held by the pause succeeded; the image was closed under it")
	}
	if problems, err := libvhd.Check(vhd, libvhd.CheckOptions{}); err != nil || len(problems) != 0 {
		t.Errorf("Check() = %v, %v", problems, err)
	}
}
