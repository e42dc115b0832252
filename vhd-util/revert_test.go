package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest/vhdcreate"
)

// newImage is a 20 MB image with data in its first blocks, at
// dir/disk.vhd, and its bytes.
func newImage(t *testing.T, dir string) (img string, before []byte) {
	t.Helper()
	img = filepath.Join(dir, "disk.vhd")
	os.Remove(img)
	ok(t, "create", "-n", img, "-s", "20")
	writeData(t, img, bytes.Repeat([]byte{0x42}, 3<<20), 0)
	before, _ = os.ReadFile(img)
	return img, before
}

// disabledImage is newImage's image that a journaled resize to 4 GiB
// left disabled, its journal, and the image file before.
func disabledImage(t *testing.T, dir string) (img, journal string, before []byte) {
	t.Helper()
	img, before = newImage(t, dir)
	journal = filepath.Join(dir, "disk.journal")
	vhdcreate.Disable(t, img, journal)
	return img, journal, before
}

// disabled reports whether Open refuses img as disabled.
func disabled(img string) bool {
	im, err := libvhd.Open(img, libvhd.OpenOptions{ReadOnly: true})
	if err == nil {
		im.Close()
	}
	return errors.Is(err, libvhd.ErrPoisoned)
}

// A resize cut after each of its write calls leaves the old image, the
// grown one, or a disabled one that revert gives back byte for byte; the
// tools judge each (libvhd's crash tests add torn writes and power loss).
func TestResizeCutAtEveryWrite(t *testing.T) {
	dir := t.TempDir()
	journal := filepath.Join(dir, "disk.journal")
	for n := 0; n < 100; n++ {
		img, before := newImage(t, dir)
		os.Remove(journal) // a stale one is another image's: refused
		err := vhdcreate.CutResize(img, journal, n)
		what := fmt.Sprintf("cut after write %d", n)
		if disabled(img) {
			if err == nil || !strings.Contains(err.Error(), "run vhd-util revert -n "+img) {
				t.Errorf("%s: the image is left disabled, and the error does not say what to run: %v", what, err)
			}
			wantOutput(t, "", "revert", "-n", img, "-j", journal)
			if after, _ := os.ReadFile(img); !bytes.Equal(after, before) {
				t.Errorf("%s: the reverted image differs from the original", what)
			}
		}
		wantOutput(t, img+" is valid\n", "check", "-n", img, "-p", "-b")
		if size := ok(t, "query", "-n", img, "-v"); size != "20\n" && size != "4096\n" {
			t.Errorf("%s: %s MB", what, size)
		}
		if err == nil {
			if n < 8 {
				t.Fatalf("the resize made only %d writes", n)
			}
			return
		}
	}
	t.Fatal("the resize never completed")
}

// A disabled image is refused for writing with the command that gives it
// back, still answers query, scan and read, and revert restores it.
func TestDisabledImage(t *testing.T) {
	dir := t.TempDir()
	img, journal, before := disabledImage(t, dir)
	hint := fmt.Sprintf("run vhd-util revert -n %s -j %s", img, journal)
	fails(t, syscall.EINVAL, hint, "set", "-n", img, "-f", "hidden", "-v", "1")
	fails(t, syscall.EINVAL, hint, "fill", "-n", img)
	fails(t, syscall.EINVAL, hint, "resize", "-n", img, "-s", "30", "-f")
	wantOutput(t, "20\n", "query", "-n", img, "-v")
	if out := ok(t, "scan", img); !strings.HasPrefix(out, "vhd=disk.vhd capacity=20971520 ") {
		t.Errorf("scan: %q", out)
	}
	if out := ok(t, "read", "-n", img, "-p"); !strings.Contains(out, "v_poison") {
		t.Errorf("read -p does not show the poisoned footer:\n%s", out)
	}

	wantOutput(t, "", "revert", "--debug", "-n", img, "-j", journal)
	if after, _ := os.ReadFile(img); !bytes.Equal(after, before) {
		t.Error("the reverted image differs from the image before the resize")
	}
	if _, err := os.Stat(journal); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left: %v", err)
	}
	wantOutput(t, img+" is valid\n", "check", "-n", img, "-p", "-b")
	fails(t, syscall.EINVAL, "not disabled", "revert", "-n", img, "-j", journal)
}

// Journals that cannot undo the image are refused; nothing is written.
func TestRevertRefuses(t *testing.T) {
	dir := t.TempDir()
	img, journal, _ := disabledImage(t, dir)
	_, otherJournal, _ := disabledImage(t, t.TempDir())
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("not a journal"), 0o644); err != nil {
		t.Fatal(err)
	}
	disabled, _ := os.ReadFile(img)
	for _, tt := range []struct{ journal, want string }{
		{filepath.Join(dir, "none"), "is missing"},
		{junk, "is not a journal"},
		{otherJournal, "not to this one"},
	} {
		fails(t, syscall.EINVAL, tt.want, "revert", "-n", img, "-j", tt.journal)
	}
	if after, _ := os.ReadFile(img); !bytes.Equal(after, disabled) {
		t.Error("a refused revert changed the image")
	}
	wantOutput(t, "", "revert", "-n", img, "-j", journal)
}
