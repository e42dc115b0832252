package libvhd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// Crash injection over Coalesce: cut short after every write call (torn
// or not), every survivor (kill -9, power cuts) must still read, through
// the child, exactly as before; the parent must pass Check; and running
// Coalesce again on the survivor must finish the job.

// coalesceCase is the chain a crash test coalesces: into a raw base or a
// VHD one, and with mid, through mid.vhd (-a: child and mid into base).
type coalesceCase struct{ raw, mid bool }

func (cc coalesceCase) opts(fsys FS) CoalesceOptions {
	o := CoalesceOptions{FS: fsys}
	if cc.mid {
		o.Ancestor = "base.vhd"
	}
	return o
}

// coalesceCrashFixture is base (a dynamic VHD or a raw file) with data in
// some blocks, maybe mid.vhd on it, and child.vhd on top holding partial
// and full blocks, some over data below, some where there is none.
func coalesceCrashFixture(t testing.TB, cc coalesceCase) (*crashFS, string, []byte) {
	t.Helper()
	c := newCrashFS()
	model := make([]byte, crashDiskSize)
	base, raw := "base.vhd", cc.raw
	if raw {
		base = "base.raw"
		fillPattern(model, 0x30)
		f, err := c.OpenFile(base, os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt(model, 0); err != nil {
			t.Fatal(err)
		}
		f.Sync()
	} else {
		im, err := Create(base, CreateOptions{Type: Dynamic, Size: crashDiskSize, BlockSize: crashBlock, FS: c})
		if err != nil {
			t.Fatal(err)
		}
		fillPattern(model[:6*crashBlock], 0x30)
		mustWrite(t, im, model[:6*crashBlock], 0)
		closeOK(t, im)
	}
	parent := base
	if cc.mid {
		im, err := Create("mid.vhd", CreateOptions{Parent: base, BlockSize: crashBlock, FS: c})
		if err != nil {
			t.Fatal(err)
		}
		for _, off := range []int64{3*crashBlock + 8<<10, 9*crashBlock + 4<<10, 14 * crashBlock} {
			data := make([]byte, 24<<10)
			fillPattern(data, byte(0x60+off/crashBlock))
			mustWrite(t, im, data, off)
			copy(model[off:], data)
		}
		closeOK(t, im)
		parent = "mid.vhd"
	}
	im, err := Create("child.vhd", CreateOptions{Parent: parent, ParentRaw: raw && !cc.mid, BlockSize: crashBlock, FS: c})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		off int64
		n   int
	}{
		{4 << 10, 8 << 10},                    // partial, over base data
		{2 * crashBlock, crashBlock},          // a full block over base data
		{5*crashBlock + 60<<10, 12 << 10},     // across into a block base lacks
		{9 * crashBlock, crashBlock},          // a full block base lacks
		{12*crashBlock + 512, crashBlock / 2}, // partial where base has none
	} {
		data := make([]byte, w.n)
		fillPattern(data, byte(0x80+w.off/crashBlock))
		mustWrite(t, im, data, w.off)
		copy(model[w.off:], data)
	}
	closeOK(t, im)
	c.writes = 0
	return c, base, model
}

func TestCoalesceCrashSafety(t *testing.T) {
	for _, cc := range []coalesceCase{{false, false}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("raw base %v, through mid %v", cc.raw, cc.mid), func(t *testing.T) {
			c, base, model := coalesceCrashFixture(t, cc)
			if _, err := Coalesce("child.vhd", cc.opts(c)); err != nil {
				t.Fatal(err)
			}
			n := c.writes
			t.Logf("%d write calls", n)
			judgeCoalesced(t, c, base, model, "uncrashed")
			for k := 0; k < n; k++ {
				for _, tear := range []bool{false, true} {
					c, _, _ := coalesceCrashFixture(t, cc)
					c.limit, c.tear = k, tear
					if _, err := Coalesce("child.vhd", cc.opts(c)); err == nil {
						t.Fatalf("crash after write %d of %d: Coalesce reported success", k, n)
					}
					for kind, s := range survivors(c) {
						what := fmt.Sprintf("crash after write %d of %d (torn=%v), %s", k, n, tear, kind)
						mustEqualBytes(t, what+": child", readImage(t, s, "child.vhd"), model)
						if !cc.raw {
							checkValid(t, s, base)
						}
						if _, err := Coalesce("child.vhd", cc.opts(s)); err != nil {
							t.Fatalf("%s: coalesce again: %v", what, err)
						}
						judgeCoalesced(t, s, base, model, what+", coalesced again")
					}
				}
			}
		})
	}
}

// judgeCoalesced: the parent reads as the child, which is unchanged.
func judgeCoalesced(t *testing.T, fsys *crashFS, base string, model []byte, what string) {
	t.Helper()
	mustEqualBytes(t, what+": child", readImage(t, fsys, "child.vhd"), model)
	if base == "base.raw" {
		mustEqualBytes(t, what+": raw base", fsys.files[base].written, model)
		return
	}
	mustEqualBytes(t, what+": base", readImage(t, fsys, base), model)
	checkValid(t, fsys, base)
	checkValid(t, fsys, "child.vhd")
}

// fullFS is a file system with room for so many bytes in all: a write
// that would grow a file past that fails with ENOSPC, as on a full disk.
type fullFS struct {
	*crashFS
	room int64
}

func (f *fullFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	h, err := f.crashFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return fullHandle{h.(*memHandle), f}, nil
}

type fullHandle struct {
	*memHandle
	fs *fullFS
}

func (h fullHandle) WriteAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	used := int64(0)
	for _, f := range h.fs.files {
		used += int64(len(f.written))
	}
	grow := off + int64(len(p)) - int64(len(h.written))
	h.fs.mu.Unlock()
	if grow > 0 && used+grow > h.fs.room {
		return 0, &fs.PathError{Op: "write", Path: "image", Err: syscall.ENOSPC}
	}
	return h.memHandle.WriteAt(p, off)
}

// A file system filling up during a coalesce: a clear error, the chain
// through the child unchanged, the parent valid; with room again, a new
// coalesce finishes.
func TestCoalesceFullFS(t *testing.T) {
	c, base, model := coalesceCrashFixture(t, coalesceCase{})
	used := int64(0)
	for _, f := range c.files {
		used += int64(len(f.written))
	}
	full := &fullFS{c, used + crashBlock + crashBlock/2}
	_, err := Coalesce("child.vhd", CoalesceOptions{FS: full})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Coalesce on a full file system = %v; want ENOSPC", err)
	}
	t.Log(err)
	mustEqualBytes(t, "child", readImage(t, full, "child.vhd"), model)
	checkValid(t, full, base)
	full.room = 1 << 30
	if _, err := Coalesce("child.vhd", CoalesceOptions{FS: full}); err != nil {
		t.Fatal(err)
	}
	judgeCoalesced(t, c, base, model, "with room again")
}
