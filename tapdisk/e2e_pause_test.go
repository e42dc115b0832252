package main

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// TestPauseResumeUnderFio pauses and resumes a VHD 100 times while fio
// writes and verifies over two connections: fio must see no error. Then
// resuming on another image of the same size switches the disk, and one
// of another size is refused, leaving the VBD paused until a correct
// resume.
func TestPauseResumeUnderFio(t *testing.T) {
	const size = 64 << 20
	img := newVHD(t, size)
	p := start(t, t.TempDir(), []string{"vhd:" + img})
	c := p.client(t)
	ctx := context.Background()

	fio := vhdtest.StartFio(t, p.uris[0], "--iodepth=16", "--numjobs=2",
		"--size=32M", "--offset_increment=32M", "--runtime=20")
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
	if !fio.Running() {
		t.Fatal("fio ended before the 100 pauses did")
	}
	fio.Wait(t)
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

	// A smaller image is refused (a disk never shrinks); the VBD stays
	// paused and usable.
	if err := c.Pause(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := c.Resume(ctx, 0, "vhd:"+newVHD(t, size/2)); !errors.Is(err, syscall.EMEDIUMTYPE) {
		t.Fatalf("resume on a smaller image: err = %v; want EMEDIUMTYPE", err)
	}
	if info, _ := c.Stats(ctx, 0); info.State&wire.Paused == 0 || info.State&wire.ResumeFailed == 0 {
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
