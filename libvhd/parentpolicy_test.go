package libvhd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libvhd/vhdtest"
)

// createForTest is the vhdtest.Creator of this package's tests.
func createForTest(t testing.TB, path string, size int64, parent string, raw bool) {
	t.Helper()
	im, err := Create(path, CreateOptions{Type: Dynamic, Size: size, Parent: parent, ParentRaw: raw})
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}

// problemsText is Check's report as one string.
func problemsText(t *testing.T, path string, opts CheckOptions) string {
	t.Helper()
	problems, err := Check(path, opts)
	if err != nil {
		return err.Error()
	}
	var s []string
	for _, p := range problems {
		s = append(s, p.String())
	}
	return strings.Join(s, "\n")
}

// Every hostile image is refused by Open, for writing and (but for a
// block table that only harms writes) for reading, quickly and saying
// which image, which locator and which rule; Check reports the same.
func TestHostileImagesRefused(t *testing.T) {
	for _, h := range vhdtest.HostileImages(t, createForTest) {
		t.Run(h.Name, func(t *testing.T) {
			for _, ro := range []bool{false, true} {
				start := time.Now()
				im, err := Open(h.Path, OpenOptions{ReadOnly: ro})
				if took := time.Since(start); took > time.Second {
					t.Errorf("Open(ReadOnly=%v) took %v", ro, took)
				}
				if ro && h.WritesOnly {
					if err != nil || !strings.Contains(strings.Join(im.Warnings(), "\n"), h.Want) {
						t.Errorf("Open(ReadOnly) = %v; want it open, warning %q", err, h.Want)
					} else {
						im.Close()
					}
					continue
				}
				if err == nil {
					im.Close()
					t.Fatalf("Open(ReadOnly=%v) succeeded; want a refusal", ro)
				}
				msg := err.Error()
				if !strings.Contains(msg, h.Want) || !strings.Contains(msg, h.Path) || h.Locator && !strings.Contains(msg, "locator[") {
					t.Errorf("Open(ReadOnly=%v) = %q; want it to name %s, a locator (%v) and %q", ro, msg, h.Path, h.Locator, h.Want)
				}
			}
			if got := problemsText(t, h.Path, CheckOptions{Parents: true}); !strings.Contains(got, h.Want) {
				t.Errorf("Check = %q; want a problem containing %q", got, h.Want)
			}
		})
	}
}

// Chains as they are laid out for real still open, with the parent's
// data: the parent beside the child, reached through a symbolic link that
// stays there, from a child named through a linked folder, in a folder
// the operator allows (by option or environment), and a raw parent on an
// LVM volume of an allowed volume group, but not without the allowance.
func TestParentPolicyAdmits(t *testing.T) {
	pattern := bytes.Repeat([]byte{0x5C}, 1<<20)
	vhdParent := func(t *testing.T, path string) {
		im, err := Create(path, CreateOptions{Type: Dynamic, Size: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := im.WriteAt(pattern, 0); err != nil {
			t.Fatal(err)
		}
		if err := im.Close(); err != nil {
			t.Fatal(err)
		}
	}
	rawParent := func(t *testing.T, path string) {
		if err := os.WriteFile(path, append(pattern, make([]byte, 3<<20)...), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// setup makes the parent and returns the child's path and the
		// folders to allow; the child's locators name its parent
		// relative to the child, as Create writes them.
		setup   func(t *testing.T, dir string) (child string, allow []string)
		env     bool // allow through $GOTAP_PARENT_DIRS rather than the option
		refused string
	}{
		{"same folder", func(t *testing.T, dir string) (string, []string) {
			vhdParent(t, filepath.Join(dir, "base.vhd"))
			return child(t, dir, "leaf.vhd", filepath.Join(dir, "base.vhd"), false, nil), nil
		}, false, ""},
		{"raw parent in the same folder", func(t *testing.T, dir string) (string, []string) {
			rawParent(t, filepath.Join(dir, "base.img"))
			return child(t, dir, "leaf.vhd", filepath.Join(dir, "base.img"), true, nil), nil
		}, false, ""},
		{"link to a file in the same folder", func(t *testing.T, dir string) (string, []string) {
			vhdParent(t, filepath.Join(dir, "base-1.vhd"))
			symlink(t, "base-1.vhd", filepath.Join(dir, "base.vhd"))
			return child(t, dir, "leaf.vhd", filepath.Join(dir, "base.vhd"), false, nil), nil
		}, false, ""},
		{"child named through a linked folder", func(t *testing.T, dir string) (string, []string) {
			real := filepath.Join(dir, "real")
			mkdirAll(t, real)
			vhdParent(t, filepath.Join(real, "base.vhd"))
			child(t, real, "leaf.vhd", filepath.Join(real, "base.vhd"), false, nil)
			symlink(t, real, filepath.Join(dir, "sr"))
			return filepath.Join(dir, "sr", "leaf.vhd"), nil
		}, false, ""},
		{"allowed folder", func(t *testing.T, dir string) (string, []string) {
			shared := filepath.Join(dir, "shared", "gold")
			mkdirAll(t, shared)
			vhdParent(t, filepath.Join(shared, "base.vhd"))
			allow := []string{filepath.Join(dir, "shared")}
			return child(t, filepath.Join(dir, "vm"), "leaf.vhd", filepath.Join(shared, "base.vhd"), false, allow), allow
		}, false, ""},
		{"allowed folder by environment", func(t *testing.T, dir string) (string, []string) {
			shared := filepath.Join(dir, "shared")
			mkdirAll(t, shared)
			vhdParent(t, filepath.Join(shared, "base.vhd"))
			allow := []string{"/nonexistent", shared}
			return child(t, filepath.Join(dir, "vm"), "leaf.vhd", filepath.Join(shared, "base.vhd"), false, allow), allow
		}, true, ""},
		{"link into an allowed folder", func(t *testing.T, dir string) (string, []string) {
			shared := filepath.Join(dir, "shared")
			mkdirAll(t, shared)
			vhdParent(t, filepath.Join(shared, "base.vhd"))
			vm := filepath.Join(dir, "vm")
			mkdirAll(t, vm)
			symlink(t, filepath.Join(shared, "base.vhd"), filepath.Join(vm, "base.vhd"))
			allow := []string{shared}
			return child(t, vm, "leaf.vhd", filepath.Join(vm, "base.vhd"), false, allow), allow
		}, false, ""},
		{"raw parent on an LVM volume group's volume", func(t *testing.T, dir string) (string, []string) {
			vg, lv := vhdtest.VolumeGroup(t, 4<<20)
			rawParent(t, lv)
			allow := []string{vg}
			return child(t, filepath.Join(dir, "vm"), "leaf.vhd", lv, true, allow), allow
		}, false, ""},
		{"parent in another folder, not allowed", func(t *testing.T, dir string) (string, []string) {
			other := filepath.Join(dir, "other")
			mkdirAll(t, other)
			vhdParent(t, filepath.Join(other, "base.vhd"))
			path := child(t, filepath.Join(dir, "vm"), "leaf.vhd", filepath.Join(other, "base.vhd"), false, []string{other})
			return path, nil
		}, false, "not in the child's folder"},
		{"block device, not allowed", func(t *testing.T, dir string) (string, []string) {
			vg, lv := vhdtest.VolumeGroup(t, 4<<20)
			rawParent(t, lv)
			return child(t, filepath.Join(dir, "vm"), "leaf.vhd", lv, true, []string{vg}), nil
		}, false, "a block device is a parent only in an allowed folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, allow := tt.setup(t, t.TempDir())
			opts := OpenOptions{ReadOnly: true, ParentDirs: allow}
			if tt.env {
				t.Setenv(ParentDirsEnv, strings.Join(allow, ":"))
				opts.ParentDirs = nil
			}
			im, err := Open(path, opts)
			report := problemsText(t, path, CheckOptions{Parents: true, ParentDirs: opts.ParentDirs})
			if tt.refused != "" {
				if err == nil {
					im.Close()
				}
				if !errors.Is(err, ErrParentRefused) || !strings.Contains(err.Error(), tt.refused) || !strings.Contains(report, tt.refused) {
					t.Errorf("Open = %v; Check = %q; want both to refuse: %q", err, report, tt.refused)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer im.Close()
			got := make([]byte, len(pattern))
			if _, err := im.ReadAt(got, 0); err != nil || !bytes.Equal(got, pattern) {
				t.Errorf("ReadAt = %v; the parent's data not read through the child", err)
			}
			if report != "" {
				t.Errorf("Check = %q; want valid", report)
			}
		})
	}
}

// child creates dir/name over parent, allowing allow, and returns its path.
func child(t *testing.T, dir, name, parent string, raw bool, allow []string) string {
	t.Helper()
	mkdirAll(t, dir)
	path := filepath.Join(dir, name)
	im, err := Create(path, CreateOptions{Parent: parent, ParentRaw: raw, ParentDirs: allow})
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func mkdirAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// Creating a child over a parent it could not open is refused before a
// byte is written.
func TestCreateRefusesParentOutsidePolicy(t *testing.T) {
	dir := t.TempDir()
	other := filepath.Join(dir, "other")
	mkdirAll(t, other)
	createForTest(t, filepath.Join(other, "base.vhd"), 4<<20, "", false)
	leaf := filepath.Join(dir, "vm", "leaf.vhd")
	mkdirAll(t, filepath.Dir(leaf))
	if _, err := Snapshot(leaf, filepath.Join(other, "base.vhd"), SnapshotOptions{}); !errors.Is(err, ErrParentRefused) {
		t.Errorf("Snapshot = %v; want ErrParentRefused", err)
	}
	if _, err := os.Stat(leaf); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(%s) = %v; want no file left", leaf, err)
	}
}

// A FIFO, socket, character device or directory named as the image is
// refused at once, never waited on.
func TestOpenRefusesSpecialFiles(t *testing.T) {
	for _, sf := range vhdtest.SpecialFiles(t, t.TempDir()) {
		for _, ro := range []bool{false, true} {
			start := time.Now()
			_, err := Open(sf.Path, OpenOptions{ReadOnly: ro})
			if !errors.Is(err, ErrFileType) || !strings.Contains(err.Error(), sf.Kind) || time.Since(start) > time.Second {
				t.Errorf("Open(%s, ReadOnly=%v) = %v after %v; want ErrFileType (%s) at once", sf.Path, ro, err, time.Since(start), sf.Kind)
			}
		}
	}
}

// Maintenance still works on an image whose blocks overlap: emptying the
// BAT is a way out of it.
func TestEmptyBATOfOverlappingBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.vhd")
	newTestImage(t, path, "")
	patch(t, path, 0x600+4, readAt(t, path, 0x600, 4)) // block 1 over block 0
	if _, err := Open(path, OpenOptions{}); !errors.Is(err, ErrBlockOverlap) {
		t.Fatalf("Open = %v; want ErrBlockOverlap", err)
	}
	if err := EmptyBAT(path, nil); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, path)
}

// cpuTime is the CPU time this process has used: unlike the wall clock,
// it does not count the time other tests on the machine take.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A small file declaring a huge table is checked in time and memory
// bounded by the file, and reported in a few lines that count the rest.
func TestCheckHugeTableBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.vhd")
	createForTest(t, path, 2000<<30, "", false)
	l := vhdtest.ReadLayout(t, path)
	for i := range l.Entries {
		copy(l.File[l.TableOff+4*int64(i):], be32(3)) // every block at 0x600
	}
	if err := os.WriteFile(path, l.File, 0o644); err != nil {
		t.Fatal(err)
	}
	before := cpuTime(t)
	problems, err := Check(path, CheckOptions{Bitmaps: true, Data: true})
	if err != nil {
		t.Fatal(err)
	}
	if took := cpuTime(t) - before; took > 2*time.Second {
		t.Errorf("Check took %v of CPU", took)
	}
	more := 0
	for _, p := range problems {
		more += p.More
	}
	if len(problems) > 40 || more < l.Entries {
		t.Errorf("Check = %d lines counting %d more; want at most 40 lines, counting the %d entries' problems", len(problems), more, l.Entries)
	}
}
