package libvhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libvhd/imagelock"
	"gotap.dev/libvhd/vhdtest"
)

func TestUpdateConverts(t *testing.T) {
	for _, diff := range []bool{false, true} {
		t.Run(map[bool]string{false: "dynamic", true: "differencing"}[diff], func(t *testing.T) {
			path, model := newOldTap(t, t.TempDir(), diff)
			var steps []string
			out, err := Update(path, UpdateOptions{Log: func(s string) { steps = append(steps, s) }})
			if err != nil || out != UpdateConverted {
				t.Fatalf("Update = %v, %v; want %v", out, err, UpdateConverted)
			}
			if !strings.Contains(strings.Join(steps, "\n"), "disabled the image") {
				t.Errorf("steps logged: %q", steps)
			}
			if _, err := os.Stat(path + ".journal"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("journal left behind: %v", err)
			}
			l := vhdtest.ReadLayout(t, path)
			for _, f := range [][]byte{l.Footer, l.File[:FooterSize]} {
				if v := binary.BigEndian.Uint32(f[0x20:]); v != 0x00010001 || binary.BigEndian.Uint32(f[0x40:]) != vhdtest.FooterChecksum(f) {
					t.Errorf("footer: creator version %#x, checksum %#x; want 1.1 and a good checksum", v, binary.BigEndian.Uint32(f[0x40:]))
				}
			}
			if n := bitMismatches(t, path, oldRuns, vhdtest.SpecBit); n > 0 {
				t.Errorf("%d bits disagree with the sectors written, in the specification's order", n)
			}
			im, err := Open(path, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			mustEqualDisk(t, im, model)
			mustClose(t, im)
			mustBeValid(t, path)

			before := l.File
			if out, err := Update(path, UpdateOptions{}); err != nil || out != UpdateNotNeeded {
				t.Errorf("second Update = %v, %v; want %v", out, err, UpdateNotNeeded)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Error("the second Update changed the image")
			}
		})
	}
}

// Images Update has nothing to do with are left as they are.
func TestUpdateLeavesImagesUntouched(t *testing.T) {
	tests := []struct {
		name     string
		make     func(t *testing.T, path string)
		rollback bool
		want     UpdateOutcome
	}{
		{"tap 1.3", func(t *testing.T, p string) { newTestImage(t, p, "") }, false, UpdateNotNeeded},
		{"fixed tap 0.1", func(t *testing.T, p string) {
			im, err := Create(p, CreateOptions{Type: Fixed, Size: 1 << 20})
			if err != nil {
				t.Fatal(err)
			}
			mustClose(t, im)
			f := readAt(t, p, -FooterSize, FooterSize)
			binary.BigEndian.PutUint32(f[0x20:], oldTapCreatorVersion)
			binary.BigEndian.PutUint32(f[0x40:], checksum(f, 0x40))
			patch(t, p, -FooterSize, f)
		}, false, UpdateNotNeeded},
		{"rollback of an enabled tap 0.1", func(t *testing.T, p string) {
			old, _ := newOldTap(t, filepath.Dir(p), false)
			if err := os.Rename(old, p); err != nil {
				t.Fatal(err)
			}
		}, true, UpdateNotDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.vhd")
			tt.make(t, path)
			before, _ := os.ReadFile(path)
			if out, err := Update(path, UpdateOptions{Rollback: tt.rollback}); err != nil || out != tt.want {
				t.Errorf("Update = %v, %v; want %v", out, err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Error("Update changed the image")
			}
		})
	}
}

// writeTestJournal journals path's image as an update would, without
// going further.
func writeTestJournal(t *testing.T, path, journal string) {
	t.Helper()
	im, err := Open(path, OpenOptions{NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer mustClose(t, im)
	u := &updater{path: path, UpdateOptions: UpdateOptions{Journal: journal, FS: OSFS{}, Log: func(string) {}}}
	if err := u.writeJournal(im); err != nil {
		t.Fatal(err)
	}
}

// disable marks path's header as an update in progress does.
func disable(t *testing.T, path string) {
	t.Helper()
	editHeader(t, path, func(b []byte) { binary.BigEndian.PutUint32(b[0x18:], disabledHeaderVersion) })
}

// A journal that is not the image's, or none where the image needs one:
// refused, and neither the image nor the file is touched.
func TestUpdateRefusesWrongJournals(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path, journal string)
		want    string
	}{
		{"not a journal where one would go", func(t *testing.T, _, j string) {
			if err := os.WriteFile(j, []byte("keep me"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "another image's journal or not a journal"},
		{"another image's journal", func(t *testing.T, _, j string) {
			other, _ := newOldTap(t, t.TempDir(), false)
			writeTestJournal(t, other, j)
		}, "another image's journal or not a journal"},
		{"disabled, no journal", func(t *testing.T, p, _ string) { disable(t, p) }, "is missing"},
		{"disabled, another image's journal", func(t *testing.T, p, j string) {
			other, _ := newOldTap(t, t.TempDir(), false)
			writeTestJournal(t, other, j)
			disable(t, p)
		}, "not to this one"},
		{"disabled, an unfinished journal", func(t *testing.T, p, j string) {
			if err := os.WriteFile(j, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			disable(t, p)
		}, "was never completed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := newOldTap(t, t.TempDir(), false)
			journal := filepath.Join(t.TempDir(), "j")
			tt.prepare(t, path, journal)
			image, _ := os.ReadFile(path)
			jdata, _ := os.ReadFile(journal)
			_, err := Update(path, UpdateOptions{Journal: journal})
			if !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Update: %v; want ErrJournal, %q", err, tt.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, image) {
				t.Error("Update changed the image")
			}
			if after, _ := os.ReadFile(journal); !bytes.Equal(after, jdata) {
				t.Error("Update changed the journal file")
			}
		})
	}
}

// An image in use is refused, enabled (a writer holds it) or disabled
// (another vhd-update holds it).
func TestUpdateRefusesLockedImage(t *testing.T) {
	path, _ := newOldTap(t, t.TempDir(), false)
	served, err := Open(path, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Update(path, UpdateOptions{}); !errors.Is(err, imagelock.ErrLocked) {
		t.Errorf("Update of a served image: %v; want ErrLocked", err)
	}
	mustClose(t, served)

	writeTestJournal(t, path, path+".journal")
	disable(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := imagelock.Lock(f, imagelock.Exclusive); err != nil {
		t.Fatal(err)
	}
	if _, err := Update(path, UpdateOptions{}); !errors.Is(err, imagelock.ErrLocked) {
		t.Errorf("Update of a disabled image in use: %v; want ErrLocked", err)
	}
}

// A rollback from the journal gives back the image byte for byte.
func TestUpdateRollsBack(t *testing.T) {
	path, _ := newOldTap(t, t.TempDir(), true)
	before, _ := os.ReadFile(path)
	writeTestJournal(t, path, path+".journal")
	disable(t, path)
	if out, err := Update(path, UpdateOptions{Rollback: true}); err != nil || out != UpdateRolledBack {
		t.Fatalf("Update = %v, %v; want %v", out, err, UpdateRolledBack)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("the rolled back image differs from the original")
	}
	if _, err := os.Stat(path + ".journal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("journal left behind: %v", err)
	}
}
