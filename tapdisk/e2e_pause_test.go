package main

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/vbd"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// TestPauseResumeUnderFio pauses and resumes a VHD 100 times while fio
// writes and verifies over two connections: fio must see no error. Then
// resuming on another image of the same size switches the disk, and one
// of another size is refused, leaving the VBD paused until a correct
// resume.
func TestPauseResumeUnderFio(t *testing.T) {
	vhdtest.RequireTool(t, "fio")
	const size = 64 << 20
	img := newVHD(t, size)
	p := start(t, t.TempDir(), []string{"vhd:" + img})
	c := p.client(t)
	ctx := context.Background()

	fio := exec.Command("fio", "--name=pause", "--ioengine=nbd", "--uri="+p.uris[0],
		"--rw=randrw", "--bs=4k", "--iodepth=16", "--numjobs=2",
		"--size=32M", "--offset_increment=32M", "--time_based", "--runtime=20",
		"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_backlog=512",
		"--verify_state_save=0", "--group_reporting", "--output-format=terse", "--terse-version=3")
	var out strings.Builder
	fio.Stdout, fio.Stderr = &out, &out
	if err := fio.Start(); err != nil {
		t.Fatal(err)
	}
	fioDone := make(chan error, 1)
	go func() { fioDone <- fio.Wait() }()

	time.Sleep(time.Second) // let fio connect and get going
	for i := range 100 {
		if err := c.Pause(ctx, 0); err != nil {
			t.Fatalf("pause %d: %v", i, err)
		}
		time.Sleep(5 * time.Millisecond)
		if err := c.Resume(ctx, 0, ""); err != nil {
			t.Fatalf("resume %d: %v", i, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case err := <-fioDone:
		t.Fatalf("fio ended before the 100 pauses did: %v\n%s", err, out.String())
	default:
	}
	if err := <-fioDone; err != nil {
		t.Fatalf("fio: %v\n%s", err, out.String())
	}
	f := strings.Split(strings.TrimSpace(out.String()), ";")
	if len(f) < 48 || f[4] != "0" || f[5] == "0" || f[46] == "0" {
		t.Fatalf("fio: errors or no I/O (terse: errors=%v):\n%s", f[min(4, len(f)-1)], out.String())
	}
	info, err := c.Stats(ctx, 0)
	if err != nil || info.Stats.Errors != 0 {
		t.Fatalf("stats after the pauses: %+v, %v", info.Stats, err)
	}

	// Switch to another image of the same size: reads now come from it.
	other := newVHD(t, size)
	writePattern(t, other, 0x77)
	if err := c.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx, 0, "vhd:"+other); err != nil {
		t.Fatalf("resume on another image: %v", err)
	}
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", "read -P 0x77 0 64k", p.uris[0])

	// Another size is refused; the VBD stays paused and usable.
	if err := c.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx, 0, "vhd:"+newVHD(t, 2*size)); !errors.Is(err, syscall.EMEDIUMTYPE) {
		t.Fatalf("resume with another size: err = %v; want EMEDIUMTYPE", err)
	}
	if info, _ := c.Stats(ctx, 0); info.State&vbd.Paused == 0 || info.State&vbd.ResumeFailed == 0 {
		t.Fatalf("state after the refused resume = %v; want paused|resume-failed", info.State)
	}
	if err := c.Resume(ctx, 0, "vhd:"+other); err != nil {
		t.Fatalf("resume after a refused one: %v", err)
	}
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", "read -P 0x77 0 64k", p.uris[0])
	if code := p.stop(t); code != 0 {
		t.Fatalf("tapdisk exited %d", code)
	}
}

// writePattern fills the first 64 KiB of a VHD with b.
func writePattern(t *testing.T, path string, b byte) {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for i := range buf {
		buf[i] = b
	}
	if _, err := im.WriteAt(buf, 0); err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}
