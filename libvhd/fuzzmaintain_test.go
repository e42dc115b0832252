package libvhd

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// fuzzMaxGrow bounds the disks FuzzMaintain fills or grows: both write
// into the in-memory file as much as the disk holds.
const fuzzMaxGrow = 8 << 20

// maintOp is a maintenance operation run on fuzzPath, and what the disk
// must read afterwards, given what it read before: nil, the same.
type maintOp struct {
	name string
	run  func(fsys journalTruncFS, im *Image) error
	// after is the disk's new size and contents if the operation
	// succeeded and changed them (before is the old contents of
	// fuzzRanges(old size)); nil: the same size and contents.
	after func(im *Image, before [][]byte) (size int64, want [][]byte)
}

var maintOps = []maintOp{
	{name: "set hidden", run: func(fsys journalTruncFS, _ *Image) error { return SetHidden(fuzzPath, 1, fsys) }},
	{name: "set marker", run: func(fsys journalTruncFS, _ *Image) error { return SetMarker(fuzzPath, 1, fsys) }},
	{name: "repair footer", run: func(fsys journalTruncFS, _ *Image) error {
		_, err := RepairFooter(fuzzPath, false, fsys)
		return err
	}},
	{name: "give UUID", run: func(fsys journalTruncFS, _ *Image) error {
		_, err := GiveUUID(fuzzPath, fsys)
		return err
	}},
	{name: "physical size", run: func(fsys journalTruncFS, im *Image) error {
		return SetPhysicalSize(fuzzPath, roundUp(im.fileSize, SectorSize)+8*SectorSize, fsys)
	}},
	{name: "empty BAT", run: func(fsys journalTruncFS, _ *Image) error { return EmptyBAT(fuzzPath, fsys) },
		after: func(im *Image, before [][]byte) (int64, [][]byte) {
			zeros := make([][]byte, len(before))
			for i, b := range before {
				zeros[i] = make([]byte, len(b))
			}
			return im.Size(), zeros
		}},
	{name: "fill", run: func(fsys journalTruncFS, im *Image) error {
		if im.Size() > fuzzMaxGrow {
			return nil
		}
		_, err := Fill(fuzzPath, FillOptions{FS: fsys})
		return err
	}},
	{name: "update", run: func(fsys journalTruncFS, _ *Image) error {
		_, err := Update(fuzzPath, UpdateOptions{Journal: "/update.journal", FS: fsys})
		return err
	}},
	{name: "resize", run: func(fsys journalTruncFS, im *Image) error {
		if im.Size() > fuzzMaxGrow {
			return nil
		}
		return Resize(fuzzPath, grownSize(im), ResizeOptions{Journal: resizeJournal, FS: fsys})
	}, after: func(im *Image, before [][]byte) (int64, [][]byte) {
		if im.Size() > fuzzMaxGrow {
			return im.Size(), before
		}
		return grownSize(im), before
	}},
}

// grownSize is what FuzzMaintain resizes im to: two more blocks, or
// 1 MiB more for a fixed disk, in whole sectors (Resize rounds up).
func grownSize(im *Image) int64 {
	return roundUp(im.Size(), SectorSize) + max(2*im.BlockSize(), 1<<20)
}

// FuzzMaintain runs a maintenance operation (vhd-util set, modify,
// repair, fill, resize; vhd-update) on any input. Done or refused, it must leave an
// image that opens and reads as the operation says: as before but for
// what it changes, never lost.
func FuzzMaintain(f *testing.F) {
	update := uint8(slices.IndexFunc(maintOps, func(op maintOp) bool { return op.name == "update" }))
	for _, s := range seedImages(f) {
		for op := range maintOps {
			f.Add(uint8(op), s.file)
		}
		if s.footer.Type == Dynamic { // the same as an old tap image (creator 0.1), to update
			path := filepath.Join(f.TempDir(), s.name)
			if err := os.WriteFile(path, s.file, 0o600); err != nil {
				f.Fatal(err)
			}
			vhdtest.OldTap(f, path)
			old, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(update, old)
		}
	}
	f.Fuzz(func(t *testing.T, op uint8, data []byte) {
		checkMaintain(t, maintOps[int(op)%len(maintOps)], data)
		if fixed := fixChecksums(data); !bytes.Equal(fixed, data) {
			checkMaintain(t, maintOps[int(op)%len(maintOps)], fixed)
		}
	})
}

func checkMaintain(t *testing.T, op maintOp, data []byte) {
	fsys := journalTruncFS{truncFS{newCrashFS()}}
	fsys.put(fuzzPath, data)
	opts := OpenOptions{ReadOnly: true, NoParent: true, BitmapCache: 4 << 10, FS: fsys}
	im, err := Open(fuzzPath, opts)
	if err != nil {
		return
	}
	if im.Type() == Differencing || im.BlockSize() > fuzzMaxWriteBlock {
		im.Close()
		return
	}
	// A disk read through conflicting blocks is not data (see
	// onlySafeToRead): an operation must only leave it open.
	conflicts := onlyReadable(im)
	ranges := fuzzRanges(im.Size())
	before := readRanges(t, im, ranges)
	size, want := im.Size(), before
	im.Close()
	opErr := op.run(fsys, im)
	if opErr == nil && op.after != nil {
		size, want = op.after(im, before)
	}
	if im, err = Open(fuzzPath, opts); err != nil {
		t.Fatalf("%s (returned %v): the image no longer opens: %v", op.name, opErr, err)
	}
	defer im.Close()
	if conflicts {
		return
	}
	if im.Size() != size {
		t.Fatalf("%s (returned %v): disk of %d bytes; want %d", op.name, opErr, im.Size(), size)
	}
	for j, got := range readRanges(t, im, ranges) {
		if !bytes.Equal(got, want[j]) {
			at := firstDifference(got, want[j])
			t.Fatalf("%s (returned %v): byte %d reads %#x; want %#x", op.name, opErr, ranges[j][0]+int64(at), got[at], want[j][at])
		}
	}
}
