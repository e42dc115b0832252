package libvhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// Requests Resize refuses leave the image, and any file at the journal's
// path, as they were.
func TestResizeRefuses(t *testing.T) {
	tests := []struct {
		name    string
		typ     DiskType
		maxSize int64
		size    int64
		opts    ResizeOptions
		journal []byte // written at the journal's path first
		want    error
		text    string
	}{
		{"shrink", Dynamic, 0, testSize - 1<<20, ResizeOptions{Journal: "j"}, nil, ErrShrink, "size (19922944) < curr size (20971520)"},
		{"shrink, fast", Dynamic, 0, testSize - 512, ResizeOptions{Fast: true}, nil, ErrShrink, "curr size"},
		{"fast past the BAT", Dynamic, 0, testSize + 2<<20, ResizeOptions{Fast: true}, nil, ErrNoRoom, "at most 20971520 bytes"},
		{"fast past the reserve", Dynamic, 40 << 20, 40<<20 + 512, ResizeOptions{Fast: true}, nil, ErrNoRoom, "create -S"},
		{"fast, fixed", Fixed, 0, testSize + 512, ResizeOptions{Fast: true}, nil, ErrNoRoom, "fixed"},
		{"neither journal nor fast", Dynamic, 0, 2 * testSize, ResizeOptions{}, nil, nil, "either a journal or the fast mode"},
		{"not a journal at the journal's path", Dynamic, 0, 2 * testSize, ResizeOptions{Journal: "j"}, []byte("keep me"), ErrJournal, "not a journal"},
		{"too large", Dynamic, 0, MaxDiskSize + 512, ResizeOptions{Journal: "j"}, nil, ErrTooLarge, ""},
		{"journal path too long for the footer", Dynamic, 0, 2 * testSize, ResizeOptions{Journal: strings.Repeat("d/", 210) + "j"}, nil, nil, "choose a shorter one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "a.vhd")
			im, err := Create(path, CreateOptions{Type: tt.typ, Size: testSize, MaxSize: tt.maxSize})
			if err != nil {
				t.Fatal(err)
			}
			mustClose(t, im)
			if tt.opts.Journal != "" {
				tt.opts.Journal = filepath.Join(dir, tt.opts.Journal)
			}
			if tt.journal != nil {
				if err := os.WriteFile(tt.opts.Journal, tt.journal, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			before, _ := os.ReadFile(path)
			err = Resize(path, tt.size, tt.opts)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("Resize: %v; want %v, %q", err, tt.want, tt.text)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Error("the image changed")
			}
			if tt.journal != nil {
				if after, _ := os.ReadFile(tt.opts.Journal); !bytes.Equal(after, tt.journal) {
					t.Error("the file at the journal's path changed")
				}
			}
		})
	}
}

// Growth as QEMU sees it: the old data where it was, zeros after, for
// every kind of image and both modes; a stale journal of the image is
// replaced; growing to the same size again does nothing.
func TestResizeGrows(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	tests := []struct {
		name    string
		typ     DiskType
		maxSize int64
		size    int64
		fast    bool
	}{
		{"dynamic, BAT grows over blocks", Dynamic, 0, 1 << 30, false},
		{"dynamic, fast within -S", Dynamic, 1 << 30, 1 << 30, true},
		{"fixed", Fixed, 0, 2*testSize + 512, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, journal := filepath.Join(dir, "a.vhd"), filepath.Join(dir, "j")
			im, err := Create(path, CreateOptions{Type: tt.typ, Size: testSize, MaxSize: tt.maxSize})
			if err != nil {
				t.Fatal(err)
			}
			data := make([]byte, testSize)
			fillPattern(data, 0x21)
			mustWrite(t, im, data, 0)
			id := im.Footer().UUID
			mustClose(t, im)
			stale, err := createJournal(OSFS{}, journal, id, opResize, func(string) {})
			if err != nil {
				t.Fatal(err)
			}
			stale.f.Close() // cut short: stale, of this image
			opts := ResizeOptions{Journal: journal, Fast: tt.fast}
			if tt.fast {
				opts.Journal = ""
			}
			for range 2 {
				if err := Resize(path, tt.size, opts); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(journal); !tt.fast && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("journal left: %v", err)
			}
			mustCheck(t, path)
			got := openRO(t, path)
			if got.Size() != tt.size {
				t.Errorf("size %d; want %d", got.Size(), tt.size)
			}
			model := writeModel(t, data) // then zeros, as a hole
			if err := os.Truncate(model, tt.size); err != nil {
				t.Fatal(err)
			}
			qemuCompare(t, path, model)
		})
	}
}

// A locator's offset and length are the image's word: one past the end
// of the file, or longer than a path, is refused before anything is read
// or allocated (its length was allocated whole, and an offset of 2^63
// or more passed the bounds check as a negative number).
func TestResizeRefusesLocatorPastFile(t *testing.T) {
	for _, tc := range []struct {
		name        string
		off         uint64
		space, size uint32
		text        string
	}{
		{"offset past int64", 1<<63 + 0x1000, 0xF0000000, 0xE8E8E8E8, "more than a path takes"},
		{"offset past int64, short", 1<<63 + 0x1000, 8, 512, "past the end of the file"},
		{"past the end of the file", 1 << 40, 8, 512, "past the end of the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.vhd")
			newTestImage(t, path, "")
			editHeader(t, path, func(b []byte) {
				l := b[0x240:]
				binary.BigEndian.PutUint32(l[0:], LocatorMacX)
				binary.BigEndian.PutUint32(l[4:], tc.space)
				binary.BigEndian.PutUint32(l[8:], tc.size)
				binary.BigEndian.PutUint64(l[16:], tc.off)
			})
			before, _ := os.ReadFile(path)
			err := Resize(path, 2*testSize, ResizeOptions{Journal: filepath.Join(t.TempDir(), "j")})
			if err == nil || !strings.Contains(err.Error(), "parent locator 0: ") || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Resize: %v; want %q", err, tc.text)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Error("the image changed")
			}
		})
	}
}
