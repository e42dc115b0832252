package libvhd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// Crash injection for Update: the conversion, and the finishing and
// rollback of an interrupted one, are cut after every write call (torn
// or not), and every survivor must be one of: still tap 0.1, valid, with
// the old data; disabled, and then both finished and rolled back from its
// journal; or converted, valid, with the old data. A tap 0.1 survivor
// must also convert when Update runs again.

// journalCrashFS gives the crash file system what a journal needs.
// Remove is a write call (a crash may come before it); SyncDir has
// nothing to do, as the crash file system keeps every file it created.
type journalCrashFS struct{ *crashFS }

func (f journalCrashFS) Remove(name string) error {
	c := f.crashFS
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed() {
		return errCrashed
	}
	c.writes++
	if _, ok := c.files[name]; !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(c.files, name)
	if c.crashed() {
		return errCrashed
	}
	return nil
}

func (journalCrashFS) SyncDir(string) error { return nil }

const (
	crashOldImage   = "old.vhd"
	crashOldJournal = "old.vhd.journal"
)

// oldTapCrashFS is a crash file system holding the files of an old tap
// image made by newOldTap, and the model of its disk.
func oldTapCrashFS(t *testing.T, diff bool) (func() *crashFS, []byte) {
	t.Helper()
	dir := t.TempDir()
	_, model := newOldTap(t, dir, diff)
	files := map[string][]byte{}
	for _, name := range []string{crashOldImage, "parent.vhd"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	return func() *crashFS {
		c := newCrashFS()
		for name, b := range files {
			c.files[name] = &memFile{fs: c, written: append([]byte(nil), b...), durable: append([]byte(nil), b...)}
		}
		return c
	}, model
}

// crashEveryWrite runs op on fresh file systems, cutting it after each of
// its write calls, and judges every survivor.
func crashEveryWrite(t *testing.T, fresh func() *crashFS, model []byte, op func(JournalFS) error) {
	t.Helper()
	c := fresh()
	start := c.writes
	if err := op(journalCrashFS{c}); err != nil {
		t.Fatalf("uncut run: %v", err)
	}
	n := c.writes - start
	judgeUpdateSurvivor(t, c, model, "uncut run")
	for k := range n {
		for _, tear := range []bool{false, true} {
			c := fresh()
			c.limit, c.tear = c.writes+k, tear
			if err := op(journalCrashFS{c}); err == nil {
				t.Fatalf("cut after write %d of %d: Update reported success", k, n)
			}
			for kind, s := range survivors(c) {
				judgeUpdateSurvivor(t, s, model, fmt.Sprintf("cut after write %d of %d (torn=%v), %s", k, n, tear, kind))
			}
		}
	}
}

func TestUpdateCrashSafety(t *testing.T) {
	for _, diff := range []bool{false, true} {
		t.Run(map[bool]string{false: "dynamic", true: "differencing"}[diff], func(t *testing.T) {
			fresh, model := oldTapCrashFS(t, diff)
			crashEveryWrite(t, fresh, model, func(fsys JournalFS) error {
				out, err := Update(crashOldImage, UpdateOptions{FS: fsys})
				if err == nil && out != UpdateConverted {
					err = fmt.Errorf("outcome %v", out)
				}
				return err
			})
		})
	}
}

// Finishing and rolling back are cut too, from an image an update left
// disabled halfway through its bitmaps.
func TestUpdateRecoveryCrashSafety(t *testing.T) {
	fresh, model := oldTapCrashFS(t, false)
	halfway := func() *crashFS {
		c := fresh()
		u := &updater{path: crashOldImage, UpdateOptions: UpdateOptions{Journal: crashOldJournal, FS: journalCrashFS{c}, Log: func(string) {}}}
		im, err := Open(crashOldImage, OpenOptions{NoParent: true, FS: c})
		if err != nil {
			t.Fatal(err)
		}
		if err := u.writeJournal(im); err != nil {
			t.Fatal(err)
		}
		// The disabled header, then two bitmaps: cut there.
		c.limit = c.writes + 3
		j, err := openJournal(c, crashOldJournal, opUpdate)
		if err != nil {
			t.Fatal(err)
		}
		if err := u.replay(im.file, j); !errors.Is(err, errCrashed) {
			t.Fatalf("replay cut after 3 writes: %v", err)
		}
		s := survivors(c)["kill -9"]
		if _, err := Open(crashOldImage, OpenOptions{ReadOnly: true, FS: s}); !errors.Is(err, ErrPoisoned) {
			t.Fatalf("halfway image opens: %v; want ErrPoisoned", err)
		}
		return s
	}
	for _, tt := range []struct {
		rollback bool
		want     UpdateOutcome
	}{{false, UpdateResumed}, {true, UpdateRolledBack}} {
		t.Run(tt.want.String(), func(t *testing.T) {
			crashEveryWrite(t, halfway, model, func(fsys JournalFS) error {
				out, err := Update(crashOldImage, UpdateOptions{FS: fsys, Rollback: tt.rollback})
				if err == nil && out != tt.want {
					err = fmt.Errorf("outcome %v", out)
				}
				return err
			})
		})
	}
}

// judgeUpdateSurvivor accepts a tap 0.1 image or a converted one, valid
// and holding the model; a disabled one must be both finished and rolled
// back from its journal, into one of those.
func judgeUpdateSurvivor(t *testing.T, s *crashFS, model []byte, what string) {
	t.Helper()
	im, err := Open(crashOldImage, OpenOptions{ReadOnly: true, FS: s})
	if errors.Is(err, ErrPoisoned) {
		for _, tt := range []struct {
			rollback bool
			want     UpdateOutcome
			version  uint32
		}{{false, UpdateResumed, tap11CreatorVersion}, {true, UpdateRolledBack, oldTapCreatorVersion}} {
			c := survivors(s)["kill -9"]
			w := fmt.Sprintf("%s, then %v", what, tt.want)
			if out, err := Update(crashOldImage, UpdateOptions{FS: journalCrashFS{c}, Rollback: tt.rollback}); err != nil || out != tt.want {
				t.Fatalf("%s: Update = %v, %v", w, out, err)
			}
			judgeEnabled(t, c, model, tt.version, w)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	version := im.Footer().CreatorVersion
	mustClose(t, im)
	if version != oldTapCreatorVersion && version != tap11CreatorVersion {
		t.Fatalf("%s: creator version %#x", what, version)
	}
	judgeEnabled(t, s, model, version, what)
	// Run again, Update converts a 0.1 image and has nothing to do
	// on a converted one; either way no journal is left.
	c := survivors(s)["kill -9"]
	want := map[uint32]UpdateOutcome{oldTapCreatorVersion: UpdateConverted, tap11CreatorVersion: UpdateNotNeeded}[version]
	if out, err := Update(crashOldImage, UpdateOptions{FS: journalCrashFS{c}}); err != nil || out != want {
		t.Fatalf("%s, run again: Update = %v, %v; want %v", what, out, err, want)
	}
	judgeEnabled(t, c, model, tap11CreatorVersion, what+", run again")
	if _, ok := c.files[crashOldJournal]; ok {
		t.Errorf("%s, run again: journal left", what)
	}
}

// judgeEnabled: the image opens without warnings at the creator version
// given, checks valid (data against bitmaps included) and holds model.
func judgeEnabled(t *testing.T, s *crashFS, model []byte, version uint32, what string) {
	t.Helper()
	problems, err := Check(crashOldImage, CheckOptions{Parents: true, Bitmaps: true, Data: true, FS: s})
	if err != nil {
		t.Fatalf("%s: Check: %v", what, err)
	}
	for _, p := range problems {
		t.Errorf("%s: Check: %v", what, p)
	}
	im, err := Open(crashOldImage, OpenOptions{ReadOnly: true, FS: s})
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer im.Close()
	if w := im.Warnings(); len(w) > 0 {
		t.Errorf("%s: Open warned: %q", what, w)
	}
	if v := im.Footer().CreatorVersion; v != version {
		t.Errorf("%s: creator version %#x, want %#x", what, v, version)
	}
	mustEqualDisk(t, im, model)
}
