package libvhd

import (
	"bytes"
	"testing"
)

// FuzzCoalesce merges any input, as child.vhd on a valid dynamic
// base.vhd, into its parent. Done or refused, the child must still read
// as it did; done, the parent must read as the child did. Whatever a
// crafted child holds, it can only put into its parent what it reads
// as, and never lose the chain.
func FuzzCoalesce(f *testing.F) {
	fixture, _, _ := coalesceCrashFixture(f, coalesceCase{})
	base := fixture.files["base.vhd"].written
	f.Add(bytes.Clone(fixture.files["child.vhd"].written))
	f.Fuzz(func(t *testing.T, child []byte) {
		fsys := newCrashFS()
		for name, b := range map[string][]byte{"base.vhd": base, "child.vhd": child} {
			fsys.put(name, b)
		}
		before, ok := chainView(t, fsys, "child.vhd")
		if !ok {
			return
		}
		_, err := Coalesce("child.vhd", CoalesceOptions{FS: fsys})
		after, ok := chainView(t, fsys, "child.vhd")
		if !ok {
			t.Fatalf("coalesce (returned %v): the child no longer opens", err)
		}
		if before == nil {
			return // read through conflicting blocks: not data
		}
		if !bytes.Equal(after, before) {
			at := firstDifference(after, before)
			t.Fatalf("coalesce (returned %v): the child's byte %d reads %#x; want %#x", err, at, after[at], before[at])
		}
		if err != nil {
			return
		}
		parent, ok := chainView(t, fsys, "base.vhd")
		if !ok || !bytes.Equal(parent, before[:min(len(before), len(parent))]) {
			t.Fatalf("coalesced: the parent does not read as the child did")
		}
	})
}

// chainView is the disk of the image at name, its parents opened: false
// if it does not open; nil if it opens only to be read, its blocks or
// metadata overlapping (onlySafeToRead), or is larger than a fuzz input
// can fill.
func chainView(t *testing.T, fsys FS, name string) ([]byte, bool) {
	im, err := Open(name, OpenOptions{ReadOnly: true, BitmapCache: 4 << 10, FS: fsys})
	if err != nil {
		return nil, false
	}
	defer im.Close()
	for l := im; l != nil; l = l.Parent() {
		if onlyReadable(l) {
			return nil, true
		}
	}
	if im.Size() > 4*crashDiskSize {
		return nil, true
	}
	b := make([]byte, im.Size())
	if _, err := im.ReadAt(b, 0); err != nil {
		t.Fatalf("ReadAt of %s, opened: %v", name, err)
	}
	return b, true
}
