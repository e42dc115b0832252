package libvhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// disabledFixtures are the kill -9 survivors of a journaled resize that
// moves blocks, cut after each write call, that are disabled.
func disabledFixtures(t *testing.T) (states []*crashFS, orig []byte) {
	t.Helper()
	tc := resizeCases[1] // differencing, BAT grows over blocks
	fresh, _, _ := resizeFixture(t, tc)
	orig = fresh().files["img.vhd"].written
	for k := 0; ; k++ {
		c := fresh()
		c.limit = k
		if tc.run(journalTruncFS{truncFS{c}}, nil) == nil {
			return states, orig
		}
		s := survivors(c)["kill -9"]
		if errors.Is(openErr(s), ErrPoisoned) {
			states = append(states, s)
		}
	}
}

// openErr is what opening img.vhd on s returns, the image closed again.
func openErr(s *crashFS) error {
	im, err := Open("img.vhd", OpenOptions{ReadOnly: true, FS: s})
	if err == nil {
		return im.Close()
	}
	return err
}

// Revert is cut after every write call, from every disabled state a
// resize can leave: each survivor is still disabled, and reverts, or is
// the original file.
func TestRevertCrashSafety(t *testing.T) {
	states, orig := disabledFixtures(t)
	if len(states) < 4 {
		t.Fatalf("only %d disabled states", len(states))
	}
	clone := func(s *crashFS) *crashFS { return survivors(s)["kill -9"] }
	for i, st := range states {
		c := clone(st)
		if err := Revert("img.vhd", resizeJournal, journalTruncFS{truncFS{c}}); err != nil {
			t.Fatalf("state %d: uncut Revert: %v", i, err)
		}
		n := c.writes
		for k := range n {
			for _, tear := range []bool{false, true} {
				c := clone(st)
				c.limit, c.tear = k, tear
				if err := Revert("img.vhd", resizeJournal, journalTruncFS{truncFS{c}}); err == nil {
					t.Fatalf("state %d, cut after write %d of %d: Revert reported success", i, k, n)
				}
				for kind, s := range allSurvivors(c, k) {
					what := fmt.Sprintf("state %d, cut after write %d of %d (torn=%v), %s", i, k, n, tear, kind)
					err := openErr(s)
					if errors.Is(err, ErrPoisoned) {
						s = clone(s)
						if err := Revert("img.vhd", resizeJournal, journalTruncFS{truncFS{s}}); err != nil {
							t.Fatalf("%s: Revert again: %v", what, err)
						}
					} else if err != nil {
						t.Fatalf("%s: Open: %v", what, err)
					}
					if !bytes.Equal(s.files["img.vhd"].written, orig) {
						t.Fatalf("%s: the file differs from the original", what)
					}
				}
			}
		}
	}
}

// A disabled image says which journal to revert it with, and still opens
// for inspection; revert gives it back.
func TestDisabledImage(t *testing.T) {
	states, orig := disabledFixtures(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "img.vhd")
	journal := filepath.Join(dir, "j")
	s := states[len(states)/2]
	for name, file := range map[string]string{"img.vhd": path, resizeJournal: journal} {
		if err := os.WriteFile(file, s.files[name].written, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, opts := range []OpenOptions{{}, {ReadOnly: true}, {AllowDisabled: true, NoParent: true}} {
		_, err := Open(path, opts)
		var de *DisabledError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "vhd-util revert -n "+path+" -j "+resizeJournal) {
			t.Errorf("Open(%+v): %v; want a DisabledError naming the journal and the revert command", opts, err)
		}
	}
	im, err := Open(path, OpenOptions{ReadOnly: true, AllowDisabled: true, NoParent: true})
	if err != nil {
		t.Fatalf("Open for inspection: %v", err)
	}
	if w := strings.Join(im.Warnings(), "\n"); !strings.Contains(w, "disabled") {
		t.Errorf("warnings %q: want one saying the image is disabled", w)
	}
	mustClose(t, im)
	if err := Revert(path, journal, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, orig) {
		t.Error("reverted file differs from the original")
	}
}

// A journal that cannot undo this image is refused, and neither file is
// touched.
func TestRevertRefuses(t *testing.T) {
	states, _ := disabledFixtures(t)
	disabled := states[len(states)/2]
	other := states[0] // the same image: give it another UUID
	tests := []struct {
		name    string
		image   []byte
		journal []byte // nil: none
		want    error
		text    string
	}{
		{"no journal", disabled.files["img.vhd"].written, nil, ErrJournal, "is missing"},
		{"not a journal", disabled.files["img.vhd"].written, []byte("keep me"), ErrJournal, "is not a journal"},
		{"journal cut short", disabled.files["img.vhd"].written, disabled.files[resizeJournal].written[:journalHeaderSize+100], ErrJournal, "record 0"},
		{"journal never completed", disabled.files["img.vhd"].written, unfinished(disabled.files[resizeJournal].written), ErrJournal, "never completed"},
		{"another image's journal", withUUID(t, disabled.files["img.vhd"].written), other.files[resizeJournal].written, ErrJournal, "not to this one"},
		{"an enabled image", resizeFixtureFile(t), disabled.files[resizeJournal].written, ErrNotDisabled, "not disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, journal := filepath.Join(dir, "img.vhd"), filepath.Join(dir, "j")
			if err := os.WriteFile(path, tt.image, 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.journal != nil {
				if err := os.WriteFile(journal, tt.journal, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := Revert(path, journal, nil)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Revert: %v; want %v, %q", err, tt.want, tt.text)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.image) {
				t.Error("the image changed")
			}
			if got, _ := os.ReadFile(journal); tt.journal != nil && !bytes.Equal(got, tt.journal) {
				t.Error("the journal changed")
			}
		})
	}
}

// withUUID is a disabled image file with another unique id in both
// footers (checksums fixed).
func withUUID(t *testing.T, b []byte) []byte {
	t.Helper()
	b = bytes.Clone(b)
	for _, off := range []int{0, len(b) - FooterSize} {
		f := b[off : off+FooterSize]
		f[0x44] ^= 0xFF
		binary.BigEndian.PutUint32(f[0x40:], checksum(f, 0x40))
	}
	return b
}

// resizeFixtureFile is the image of resizeCases[1], enabled.
func resizeFixtureFile(t *testing.T) []byte {
	fresh, _, _ := resizeFixture(t, resizeCases[1])
	return fresh().files["img.vhd"].written
}

// unfinished is journal as it was before its last write: the first
// sector without its CRC.
func unfinished(journal []byte) []byte {
	b := bytes.Clone(journal)
	clear(b[0x2C:0x30])
	return b
}

// Revert also rolls back an image vhd-update left disabled, and finds a
// resize's disabled image by the copy at offset 0 when the EOF footer is
// lost.
func TestRevertOtherDisabledStates(t *testing.T) {
	t.Run("vhd-update", func(t *testing.T) {
		path, _ := newOldTap(t, t.TempDir(), false)
		before, _ := os.ReadFile(path)
		writeTestJournal(t, path, path+".journal")
		disable(t, path)
		if err := Revert(path, path+".journal", nil); err != nil {
			t.Fatal(err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
			t.Error("the rolled back image differs from the original")
		}
	})
	t.Run("EOF footer lost", func(t *testing.T) {
		states, orig := disabledFixtures(t)
		s := survivors(states[len(states)/2])["kill -9"]
		img := s.files["img.vhd"].written
		copy(img[len(img)-FooterSize:], "garbage!")
		var de *DisabledError
		if err := openErr(s); !errors.As(err, &de) || de.Journal != resizeJournal {
			t.Fatalf("Open: %v; want a DisabledError naming %s", err, resizeJournal)
		}
		if err := Revert("img.vhd", resizeJournal, journalTruncFS{truncFS{s}}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.files["img.vhd"].written, orig) {
			t.Error("the reverted file differs from the original")
		}
	})
}
