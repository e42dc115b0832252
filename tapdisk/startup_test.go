package main

import (
	"bytes"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libtap/rundir"
)

// TestFailedStartLeavesRunDir: a tapdisk whose image cannot be opened
// prints nothing on stdout, exits 1 and leaves the run directory as it
// found it, with another tapdisk serving there and a minor reserved.
func TestFailedStartLeavesRunDir(t *testing.T) {
	dir := t.TempDir()
	other := start(t, dir, []string{"ram:1M"})
	if _, err := rundir.Dir(dir).Allocate(-1); err != nil {
		t.Fatal(err)
	}
	good := newVHD(t, 8<<20)
	corrupt := newVHD(t, 8<<20)
	smash(t, corrupt, 512, 1024) // the dynamic header, after the footer copy
	missing := filepath.Join(t.TempDir(), "missing.vhd")
	tests := []struct {
		name   string
		images []string
		bad    string // the image the error must name
	}{
		{"missing", []string{"vhd:" + missing}, missing},
		{"corrupt", []string{"vhd:" + corrupt}, corrupt},
		{"second of two missing", []string{"vhd:" + good, "aio:" + missing}, missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := snapshot(t, dir)
			cmd := exec.Command(binary, append([]string{"--run-dir", dir}, tt.images...)...)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != exitFail {
				t.Errorf("exit status %d; want %d", code, exitFail)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q; want nothing", stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.bad) {
				t.Errorf("stderr does not name %s:\n%s", tt.bad, stderr.String())
			}
			if after := snapshot(t, dir); !maps.Equal(after, before) {
				t.Errorf("run directory before:\n%v\nafter:\n%v", before, after)
			}
		})
	}
	if infos, err := other.client(t).List(t.Context()); err != nil || len(infos) != 1 || infos[0].State != 0 {
		t.Errorf("the other tapdisk's List() = %+v, %v; want its minor running", infos, err)
	}
}

// snapshot is what the run directory holds: each file's path, with its
// content (a marker names its holder) or its type.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := make(map[string]string)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.Type().IsRegular():
			b, err := os.ReadFile(path)
			files[path] = string(b)
			return err
		case !d.IsDir():
			files[path] = d.Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// smash overwrites n bytes of the file at off.
func smash(t *testing.T, path string, off int64, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xee}, n), off); err != nil {
		t.Fatal(err)
	}
}
