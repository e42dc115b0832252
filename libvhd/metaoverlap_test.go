package libvhd

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// An image whose metadata lies over other metadata is refused for
// writing, maintenance included: updating one would destroy the other
// (FuzzWrite found a batmap over the footer copy and dynamic header,
// rewritten at close over both). Read-only, it opens with a warning,
// and vhd-util check reports it.
func TestOverlappingMetadata(t *testing.T) {
	be64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	for _, tc := range []struct {
		name    string
		corrupt func(t *testing.T, path string)
		want    string
	}{
		{"batmap over the dynamic header", func(t *testing.T, p string) {
			editBatmap(t, p, func(h, _ []byte) { copy(h[0x08:], be64(FooterSize)) })
		}, "batmap at 0x200-0x400 overlaps the dynamic header at 0x200-0x600"},
		{"batmap over the footer copy", func(t *testing.T, p string) {
			editBatmap(t, p, func(h, _ []byte) { copy(h[0x08:], be64(0)) })
		}, "batmap at 0x0-0x200 overlaps the footer copy at 0x0-0x200"},
		{"batmap over the BAT", func(t *testing.T, p string) {
			editBatmap(t, p, func(h, _ []byte) { copy(h[0x08:], be64(0x600)) })
		}, "batmap at 0x600-0x800 overlaps the BAT at 0x600-0x800"},
		{"BAT over the dynamic header", func(t *testing.T, p string) {
			editHeader(t, p, func(b []byte) { copy(b[0x10:], be64(0x400)) })
		}, "BAT at 0x400-0x600 overlaps the dynamic header at 0x200-0x600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "disk.vhd")
			newTestImage(t, path, "")
			tc.corrupt(t, path)
			for _, maintenance := range []bool{false, true} {
				_, err := Open(path, OpenOptions{maintenance: maintenance})
				if !errors.Is(err, ErrMetadataOverlap) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Open(maintenance %v) = %v; want ErrMetadataOverlap: %s", maintenance, err, tc.want)
				}
			}
			im, err := Open(path, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatalf("Open read-only: %v", err)
			}
			defer im.Close()
			if !slices.ContainsFunc(im.Warnings(), func(w string) bool { return strings.Contains(w, tc.want) }) {
				t.Errorf("read-only Open warns %q; want %q", im.Warnings(), tc.want)
			}
			problems, err := Check(path, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(problems, func(p Problem) bool { return strings.Contains(p.Msg, tc.want) }) {
				t.Errorf("Check = %v; want a problem %q", problems, tc.want)
			}
		})
	}
}
