package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// vhdupdate runs the command in-process.
func vhdupdate(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// oldImage makes a tap 0.1 dynamic image of size bytes at path holding
// writes (offset: bytes), and returns its disk as a model.
func oldImage(t *testing.T, path string, size int64, writes map[int64][]byte) []byte {
	t.Helper()
	im, err := libvhd.Create(path, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: size})
	if err != nil {
		t.Fatal(err)
	}
	model := make([]byte, size)
	for off, b := range writes {
		if _, err := im.WriteAt(b, off); err != nil {
			t.Fatal(err)
		}
		copy(model[off:], b)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	vhdtest.OldTap(t, path)
	return model
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		out, inErr []string
	}{
		{"no name", nil, exitRefused, nil, []string{"vhd-update: missing flags: --name=NAME (see vhd-update --help)"}},
		{"unknown flag", []string{"-n", "a.vhd", "-x"}, exitRefused, nil, []string{"unknown flag -x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := vhdupdate(tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.inErr {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

// Convert, then again (nothing to do), then roll back (nothing to undo):
// one line each on stdout; --debug shows the steps.
func TestConvertThenNothingToDo(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.vhd")
	oldImage(t, path, 8<<20, map[int64][]byte{512: bytes.Repeat([]byte{7}, 1024)})
	steps := []struct {
		args []string
		out  string
		err  string
	}{
		{[]string{"-n", path, "--debug"}, path + ": converted to creator version tap 1.1\n", "disabled the image"},
		{[]string{"-n", path}, path + ": not a tap 0.1 dynamic or differencing image: left untouched\n", ""},
		{[]string{"-r", "-n", path}, path + ": no unfinished update to roll back: left untouched\n", ""},
	}
	for _, s := range steps {
		out, errs, code := vhdupdate(s.args...)
		if code != exitOK || out != s.out || !strings.Contains(errs, s.err) || (s.err == "" && errs != "") {
			t.Errorf("vhd-update %s = exit %d, %q, %q; want exit 0, %q, stderr with %q", strings.Join(s.args, " "), code, out, errs, s.out, s.err)
		}
	}
}

// disable marks the image's header (at 0x200) as an update in progress
// does: version 0xFFFFFFFF, checksum fixed.
func disable(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := b[0x200:0x600]
	binary.BigEndian.PutUint32(h[0x18:], 0xFFFFFFFF)
	var sum uint32
	for i, c := range h {
		if i < 0x24 || i >= 0x28 {
			sum += uint32(c)
		}
	}
	binary.BigEndian.PutUint32(h[0x24:], ^sum)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExitStatus(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path, journal string)
		code    int
		err     string
	}{
		{"missing image", func(t *testing.T, p, _ string) { os.Remove(p) }, exitIO, "no such file"},
		{"not a VHD", func(t *testing.T, p, _ string) { os.WriteFile(p, []byte("not a vhd"), 0o644) }, exitInvalid, "file too short"},
		{"damaged EOF footer", func(t *testing.T, p, _ string) {
			f, err := os.OpenFile(p, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, _ := f.Stat()
			f.WriteAt([]byte("garbage!"), st.Size()-512)
		}, exitInvalid, "vhd-util repair"},
		{"a file that is not a journal", func(t *testing.T, _, j string) { os.WriteFile(j, []byte("keep"), 0o644) }, exitRefused, "not a journal"},
		{"disabled, without its journal", func(t *testing.T, p, _ string) { disable(t, p) }, exitRefused, "is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, journal := filepath.Join(dir, "old.vhd"), filepath.Join(dir, "j")
			oldImage(t, path, 4<<20, nil)
			tt.prepare(t, path, journal)
			out, errs, code := vhdupdate("-n", path, "-j", journal)
			if code != tt.code || out != "" || !strings.HasPrefix(errs, "vhd-update: ") || !strings.Contains(errs, path) || !strings.Contains(errs, tt.err) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errs, tt.code, tt.err)
			}
		})
	}
}
