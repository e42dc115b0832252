package libvhd

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// LVHD: images inside block devices (blockdev.go), on crashFS devices
// whose unused bytes are stale (0xA5), never a hole's zeros. The crash
// tests run on such devices too (crash_test.go).

const devBlock = 64 << 10

func TestCreateWhereAFileExists(t *testing.T) {
	tests := []struct {
		name    string
		typ     DiskType
		prepare func(*crashFS)
		want    error
	}{
		{"regular file", Dynamic, func(c *crashFS) { c.files["d"] = &memFile{fs: c, written: make([]byte, 1<<20)} }, fs.ErrExist},
		{"device smaller than the metadata", Dynamic, func(c *crashFS) { c.addDevice("d", 2048) }, syscall.ENOSPC},
		{"device larger than a fixed image", Fixed, func(c *crashFS) { c.addDevice("d", 2<<20) }, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCrashFS()
			tt.prepare(c)
			before := bytes.Clone(c.files["d"].written)
			_, err := Create("d", CreateOptions{Type: tt.typ, Size: 1 << 20, BlockSize: devBlock, FS: c})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Create = %v; want %v", err, tt.want)
			}
			if !bytes.Equal(c.files["d"].written, before) {
				t.Errorf("Create changed the existing file")
			}
		})
	}
}

// TestBlockDeviceImage follows an LVHD's life: create in a device, write,
// reopen, snapshot into another device, fill the device up.
func TestBlockDeviceImage(t *testing.T) {
	const devSize = 8 * devBlock
	c := newCrashFS()
	c.addDevice("base", devSize)
	c.addDevice("child", devSize)
	im, err := Create("base", CreateOptions{Type: Dynamic, Size: 16 * devBlock, BlockSize: devBlock, FS: c})
	if err != nil {
		t.Fatal(err)
	}
	metaEnd := im.PhysicalEnd()
	if metaEnd >= devSize || metaEnd < 2048 {
		t.Errorf("PhysicalEnd of a new image = %d; want its metadata's end + 512, not the device's %d", metaEnd, devSize)
	}
	data := bytes.Repeat([]byte{0x42}, 1024)
	mustWrite(t, im, data, 3*devBlock+8192)
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	checkDevice(t, c, "base")

	im = openClean(t, c, "base")
	// The block's 512-byte bitmap right after the old footer, its data
	// 4 KiB aligned, then the footer.
	if got, want := im.PhysicalEnd(), roundUp(metaEnd+SectorSize, blockAlign)+devBlock+FooterSize; got != want {
		t.Errorf("PhysicalEnd after one block = %d; want %d", got, want)
	}
	got := make([]byte, 3*devBlock)
	if _, err := im.ReadAt(got, 2*devBlock); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 3*devBlock)
	copy(want[devBlock+8192:], data)
	if !bytes.Equal(got, want) {
		t.Errorf("ReadAt around the block written: not the data and zeros written")
	}
	im.Close()

	child, err := Snapshot("child", "base", SnapshotOptions{FS: c})
	if err != nil {
		t.Fatalf("Snapshot into a device: %v", err)
	}
	if err := child.Close(); err != nil {
		t.Fatal(err)
	}
	checkDevice(t, c, "child")
	openClean(t, c, "child").Close()

	// Fill base until the device holds no more blocks: ENOSPC, clean.
	im = openClean(t, c, "base")
	full := bytes.Repeat([]byte{0x17}, devBlock)
	var werr error
	for b := int64(0); b < 16 && werr == nil; b++ {
		_, werr = im.WriteAt(full, b*devBlock)
	}
	if !errors.Is(werr, syscall.ENOSPC) || !errors.Is(werr, ErrDeviceTooSmall) {
		t.Errorf("writing past the device's room = %v; want ErrDeviceTooSmall (ENOSPC)", werr)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	checkDevice(t, c, "base")
}

// checkDevice: Check finds nothing, data checked against the bitmaps
// included (stale device bytes under clear bits would be reported).
func checkDevice(t *testing.T, c *crashFS, name string) {
	t.Helper()
	problems, err := Check(name, CheckOptions{Parents: true, Bitmaps: true, Data: true, FS: c})
	if err != nil {
		t.Fatalf("Check %s: %v", name, err)
	}
	for _, p := range problems {
		t.Errorf("Check %s: %v", name, p)
	}
}

// openClean opens name for writing and fails on any warning: the footer
// is found at the end of the data, not looked for at the device's end.
func openClean(t *testing.T, c *crashFS, name string) *Image {
	t.Helper()
	im, err := Open(name, OpenOptions{FS: c})
	if err != nil {
		t.Fatal(err)
	}
	if w := im.Warnings(); len(w) > 0 {
		t.Errorf("Open %s warned: %q", name, w)
	}
	return im
}

// TestBlockDeviceInflate: SM inflates a volume by moving the footer to
// its end (SetPhysicalSize, `vhd-util modify -s`); blocks then go in
// front of it, the footer staying; deflating moves it back after the
// data. Each state opens without a warning and checks clean.
func TestBlockDeviceInflate(t *testing.T) {
	const devSize = 8 * devBlock
	c := newCrashFS()
	c.addDevice("lv", devSize)
	im, err := Create("lv", CreateOptions{Type: Dynamic, Size: 16 * devBlock, BlockSize: devBlock, FS: c})
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	if err := SetPhysicalSize("lv", devSize, c); err != nil {
		t.Fatalf("inflate: %v", err)
	}
	checkDevice(t, c, "lv")
	im = openClean(t, c, "lv")
	data := bytes.Repeat([]byte{0x33}, 4096)
	mustWrite(t, im, data, 0)
	mustWrite(t, im, data, 5*devBlock)
	if got, want := im.footerOff, int64(devSize-FooterSize); got != want {
		t.Errorf("footer after writes to an inflated volume at %d; want it left at the end, %d", got, want)
	}
	end := im.PhysicalEnd()
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	checkDevice(t, c, "lv")

	if err := SetPhysicalSize("lv", end, c); err != nil {
		t.Fatalf("deflate: %v", err)
	}
	checkDevice(t, c, "lv")
	im = openClean(t, c, "lv")
	defer im.Close()
	if im.footerOff != end-FooterSize {
		t.Errorf("footer after deflating at %d; want %d", im.footerOff, end-FooterSize)
	}
	got := make([]byte, 4096)
	if _, err := im.ReadAt(got, 5*devBlock); err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadAt after deflating = %v, data equal %v", err, bytes.Equal(got, data))
	}
}

// TestBlockDeviceFooterMoveCrashSafety cuts inflating and deflating a
// volume (SetPhysicalSize on a device: the new footer, then the old one
// erased) after every write call; judged as the other maintenance
// operations (maintain_crash_test.go).
func TestBlockDeviceFooterMoveCrashSafety(t *testing.T) {
	const devSize = 2 * maintDisk
	fixture := func(t *testing.T, inflated bool) *crashFS {
		c := newCrashFS()
		c.addDevice("base.vhd", devSize)
		c.addDevice("child.vhd", devSize)
		pattern := make([]byte, maintDisk)
		fillPattern(pattern, 0x40)
		im, err := Create("base.vhd", CreateOptions{Type: Dynamic, Size: maintDisk, FS: c})
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, im, pattern, 0)
		closeOK(t, im)
		if im, err = Create("child.vhd", CreateOptions{Parent: "base.vhd", FS: c}); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, im, pattern[:16<<10], 8192)
		closeOK(t, im)
		if inflated {
			if err := SetPhysicalSize("child.vhd", devSize, c); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	deflated := func(t *testing.T) int64 {
		im := openClean(t, fixture(t, true), "child.vhd")
		defer im.Close()
		return im.PhysicalEnd()
	}(t)
	ops := []struct {
		name     string
		inflated bool
		size     int64
	}{
		{"inflate", false, devSize},
		{"deflate", true, deflated},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			c := fixture(t, op.inflated)
			old := readDisk(t, c, "before")
			start := c.writes
			if err := SetPhysicalSize("child.vhd", op.size, c); err != nil {
				t.Fatal(err)
			}
			n := c.writes - start
			for k := 0; k < n; k++ {
				for _, tear := range []bool{false, true} {
					c := fixture(t, op.inflated)
					c.limit, c.tear = c.writes+k, tear
					if err := SetPhysicalSize("child.vhd", op.size, c); err == nil {
						t.Fatalf("crash after write %d of %d: the operation reported success", k, n)
					}
					judgeMaintSurvivors(t, c, old, old, "", fmt.Sprintf("crash after write %d of %d (torn=%v)", k, n, tear))
				}
			}
		})
	}
}

// TestFixedImageFillsDevice: a fixed image in a device of exactly its
// size and footer opens as one in a file.
func TestFixedImageFillsDevice(t *testing.T) {
	c := newCrashFS()
	c.addDevice("d", 1<<20+FooterSize)
	im, err := Create("d", CreateOptions{Type: Fixed, Size: 1 << 20, FS: c})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, im, []byte{1, 2, 3}, 4096)
	closeOK(t, im)
	checkDevice(t, c, "d")
	im = openClean(t, c, "d")
	defer im.Close()
	if im.Type() != Fixed || im.Size() != 1<<20 {
		t.Errorf("Open = %v of %d bytes; want a fixed disk of %d", im.Type(), im.Size(), 1<<20)
	}
}

// TestCreateOverInflatedImage: a volume reused after an inflated image
// (footer at the device's end) opens as the new image, not by the old
// footer.
func TestCreateOverInflatedImage(t *testing.T) {
	const devSize = 8 * devBlock
	c := newCrashFS()
	c.addDevice("lv", devSize)
	im, err := Create("lv", CreateOptions{Type: Dynamic, Size: 16 * devBlock, BlockSize: devBlock, FS: c})
	if err != nil {
		t.Fatal(err)
	}
	closeOK(t, im)
	if err := SetPhysicalSize("lv", devSize, c); err != nil {
		t.Fatal(err)
	}
	im, err = Create("lv", CreateOptions{Type: Dynamic, Size: 4 * devBlock, BlockSize: devBlock, FS: c})
	if err != nil {
		t.Fatal(err)
	}
	want := im.Footer().UUID
	closeOK(t, im)
	checkDevice(t, c, "lv")
	im = openClean(t, c, "lv")
	defer im.Close()
	if got := im.Footer(); got.UUID != want || im.Size() != 4*devBlock {
		t.Errorf("Open = image %v of %d bytes; want the new one, %v of %d", got.UUID, im.Size(), want, 4*devBlock)
	}
}
