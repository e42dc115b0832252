package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// TestExt4OnKernelBlockDevice puts a real file system on a VHD served by
// tapdisk: nbdfuse exposes the export as a file, a loop device makes it a
// kernel block device, mkfs.ext4 and mount use it. A tree of files is
// written and tapdisk stopped; the image checks valid; served again, every
// file reads back with its checksum.
func TestExt4OnKernelBlockDevice(t *testing.T) {
	for _, tool := range []string{"nbdfuse", "fusermount3", "losetup", "mkfs.ext4", "mount", "umount"} {
		vhdtest.RequireTool(t, tool)
	}
	if os.Geteuid() != 0 {
		if vhdtest.InCI() {
			t.Fatal("loop devices and mount need root")
		}
		t.Skip("loop devices and mount need root")
	}
	img := newVHD(t, 256<<20)
	files := map[string][32]byte{}

	withMountedDisk(t, img, func(mnt string) {
		for i := range 40 {
			name := filepath.Join(fmt.Sprintf("dir%d", i%5), fmt.Sprintf("file%02d", i))
			data := make([]byte, 1000+i*37*1024)
			rand.Read(data)
			path := filepath.Join(mnt, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			files[name] = sha256.Sum256(data)
		}
	}, true)
	problems, err := libvhd.Check(img, libvhd.CheckOptions{Bitmaps: true})
	if err != nil || len(problems) > 0 {
		t.Fatalf("check after stop: %v %v", problems, err)
	}
	withMountedDisk(t, img, func(mnt string) {
		for name, sum := range files {
			data, err := os.ReadFile(filepath.Join(mnt, name))
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(data) != sum {
				t.Errorf("%s: checksum differs after serving again", name)
			}
		}
	}, false)
}

// withMountedDisk serves img with tapdisk, mounts it through nbdfuse and
// a loop device (making an ext4 file system first if mkfs), runs fn, and
// takes everything down again in order: unmount, loop, FUSE, tapdisk.
func withMountedDisk(t *testing.T, img string, fn func(mnt string), mkfs bool) {
	t.Helper()
	p := start(t, t.TempDir(), []string{"vhd:" + img})
	fuseDir, mnt := t.TempDir(), t.TempDir()
	pidfile := filepath.Join(t.TempDir(), "nbdfuse.pid")
	fuse := exec.Command("nbdfuse", "-P", pidfile, filepath.Join(fuseDir, "disk"), p.uris[0])
	var fuseOut bytes.Buffer
	fuse.Stdout, fuse.Stderr = &fuseOut, &fuseOut
	if err := fuse.Start(); err != nil {
		t.Fatal(err)
	}
	fuseDone := make(chan error, 1)
	go func() { fuseDone <- fuse.Wait() }()
	waitFor(t, func() bool { _, err := os.Stat(pidfile); return err == nil }, "nbdfuse ready")

	loop := strings.TrimSpace(vhdtest.Run(t, "losetup", "-f", "--show", filepath.Join(fuseDir, "disk")))
	if mkfs {
		vhdtest.Run(t, "mkfs.ext4", "-q", loop)
	}
	vhdtest.Run(t, "mount", loop, mnt)
	mounted := true
	defer func() {
		if mounted {
			exec.Command("umount", mnt).Run()
		}
		exec.Command("losetup", "-d", loop).Run()
		exec.Command("fusermount3", "-u", fuseDir).Run()
		<-fuseDone
	}()
	fn(mnt)
	vhdtest.Run(t, "umount", mnt)
	mounted = false
	vhdtest.Run(t, "losetup", "-d", loop)
	vhdtest.Run(t, "fusermount3", "-u", fuseDir)
	select {
	case <-fuseDone:
		fuseDone <- nil
	case <-time.After(10 * time.Second):
		t.Fatalf("nbdfuse still running after unmount:\n%s", fuseOut.String())
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("tapdisk exited %d", code)
	}
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
