package libvhd

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

// Crash injection for the maintenance operations: each is cut short after
// every write call (and, but for reparenting, with that write torn). The
// kill -9 survivor and the power-loss ones must open without warnings,
// pass Check, and read as the disk before or after the operation.

// truncFS adds Truncate to the crash file system: maintenance cuts files.
type truncFS struct{ *crashFS }

func (f truncFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	h, err := f.crashFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return truncHandle{h.(*memHandle)}, nil
}

type truncHandle struct{ *memHandle }

// Truncate counts as a write call, so a crash can come just before it; a
// power cut before the next Sync forgets it (powerLoss keeps the durable
// length).
func (h truncHandle) Truncate(n int64) error {
	c := h.fs
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed() {
		return errCrashed
	}
	c.writes++
	if int64(len(h.written)) > n {
		h.written = h.written[:n]
	}
	return nil
}

const maintDisk = 8 << 20

// maintFixture is base.vhd and other.vhd (same contents, other UUIDs) and
// child.vhd on base with a partial block and a full one.
func maintFixture(t *testing.T) *crashFS {
	t.Helper()
	c := newCrashFS()
	fsys := truncFS{c}
	pattern := make([]byte, maintDisk)
	fillPattern(pattern, 0x40)
	for _, name := range []string{"base.vhd", "other.vhd"} {
		im, err := Create(name, CreateOptions{Type: Dynamic, Size: maintDisk, FS: fsys})
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, im, pattern, 0)
		closeOK(t, im)
	}
	im, err := Create("child.vhd", CreateOptions{Parent: "base.vhd", FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2<<20)
	fillPattern(data, 0x90)
	mustWrite(t, im, data[:16<<10], 8192)
	mustWrite(t, im, data, 4<<20)
	closeOK(t, im)
	return c
}

func closeOK(t testing.TB, im *Image) {
	t.Helper()
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}

// readDisk is child.vhd's virtual disk.
func readDisk(t *testing.T, fsys FS, what string) []byte {
	t.Helper()
	im, err := Open("child.vhd", OpenOptions{ReadOnly: true, FS: fsys})
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer im.Close()
	if w := im.Warnings(); len(w) > 0 {
		t.Errorf("%s: Open warned: %q", what, w)
	}
	b := make([]byte, maintDisk)
	if _, err := im.ReadAt(b, 0); err != nil {
		t.Fatalf("%s: ReadAt: %v", what, err)
	}
	return b
}

func TestMaintenanceCrashSafety(t *testing.T) {
	ops := []struct {
		name string
		run  func(fsys FS) error
		// allow is the one problem Check may report between two writes.
		allow string
		// tear: whether to tear the write the crash hits. The dynamic header
		// (reparent) and the batmap header with its map (empty BAT) are
		// each one write of two sectors inside one 4 KiB page, assumed not
		// to tear; see SetParent and writeBatmapLocked.
		tear bool
	}{
		{"set hidden", func(f FS) error { return SetHidden("child.vhd", 1, f) }, "differs from the EOF footer", true},
		{"set marker", func(f FS) error { return SetMarker("child.vhd", 9, f) }, "", true},
		{"empty BAT", func(f FS) error { return EmptyBAT("child.vhd", f) }, "", false},
		{"grow the file", func(f FS) error { return SetPhysicalSize("child.vhd", 9<<20, f) }, "", true},
		{"reparent", func(f FS) error { return SetParent("child.vhd", "other.vhd", false, f) }, "", false},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			c := maintFixture(t)
			old := readDisk(t, truncFS{c}, "before")
			start := c.writes
			if err := op.run(truncFS{c}); err != nil {
				t.Fatal(err)
			}
			n := c.writes - start
			newDisk := readDisk(t, truncFS{c}, "after")
			for k := 0; k < n; k++ {
				for _, tear := range []bool{false, true} {
					if tear && !op.tear {
						continue
					}
					c := maintFixture(t)
					c.limit, c.tear = c.writes+k, tear
					if err := op.run(truncFS{c}); err == nil {
						t.Fatalf("crash after write %d of %d: the operation reported success", k, n)
					}
					judgeMaintSurvivors(t, c, old, newDisk, op.allow, fmt.Sprintf("crash after write %d of %d (torn=%v)", k, n, tear))
				}
			}
		})
	}
}

// survivors are the file systems a crash of c may leave: after kill -9,
// and after power cuts that keep none, or all but the last, of the writes
// since each file's last sync. What survived is durable: the next run
// starts from it.
func survivors(c *crashFS) map[string]*crashFS {
	picks := map[string]func(*memFile) []byte{
		"kill -9":                  func(f *memFile) []byte { return bytes.Clone(f.written) },
		"power loss, none kept":    func(f *memFile) []byte { return f.powerLoss(func(int) bool { return false }) },
		"power loss, all but last": func(f *memFile) []byte { return f.powerLoss(func(i int) bool { return i < len(f.unsynced)-1 }) },
	}
	out := map[string]*crashFS{}
	for kind, pick := range picks {
		s := newCrashFS()
		for name, f := range c.files {
			b := pick(f)
			s.files[name] = &memFile{fs: s, device: f.device, written: b, durable: bytes.Clone(b)}
		}
		out[kind] = s
	}
	return out
}

func judgeMaintSurvivors(t *testing.T, c *crashFS, old, newDisk []byte, allow, what string) {
	t.Helper()
	for kind, s := range survivors(c) {
		w := what + ", " + kind
		problems, err := Check("child.vhd", CheckOptions{Parents: true, Bitmaps: true, FS: truncFS{s}})
		if err != nil {
			t.Fatalf("%s: Check: %v", w, err)
		}
		for _, p := range problems {
			if allow == "" || !strings.Contains(p.Msg, allow) {
				t.Errorf("%s: Check: %v", w, p)
			}
		}
		got := readDisk(t, truncFS{s}, w)
		for off := 0; off < maintDisk; off += SectorSize {
			g := got[off : off+SectorSize]
			if !bytes.Equal(g, old[off:off+SectorSize]) && !bytes.Equal(g, newDisk[off:off+SectorSize]) {
				t.Fatalf("%s: sector %d holds neither its old nor its new bytes", w, off/SectorSize)
			}
		}
	}
}
