package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
	"gotap.dev/libvhd/vhdtest/vhdcreate"
)

// check reports every hostile image, at once; the commands that open the
// chain refuse those that reach outside themselves, saying why.
func TestHostileImages(t *testing.T) {
	for _, h := range vhdtest.HostileImages(t, vhdcreate.Create) {
		t.Run(h.Name, func(t *testing.T) {
			start := time.Now()
			out, errs, code := vhdutil(t, "check", "-n", h.Path, "-p", "-b")
			if took := time.Since(start); took > time.Second {
				t.Errorf("check took %v", took)
			}
			if code != int(syscall.EINVAL) || !strings.Contains(out+errs, h.Want) {
				t.Errorf("check = exit %d, %q %q; want exit %d reporting %q", code, out, errs, int(syscall.EINVAL), h.Want)
			}
			if h.WritesOnly {
				// Reading it harms nothing (vhd-util writes no guest data;
				// tapdisk refuses it for writing).
				ok(t, "query", "-n", h.Path, "-d")
				return
			}
			want := syscall.EINVAL // an invalid image
			if h.Locator {
				want = syscall.EACCES // a parent refused
			}
			fails(t, want, h.Want, "query", "-n", h.Path, "-d")
			fails(t, want, h.Want, "read", "-n", h.Path, "-r", "0", "-c", "1")
		})
	}
}

// A parent outside the child's folder is taken from a folder allowed by
// --parent-dir or $GOTAP_PARENT_DIRS, and only then.
func TestParentDirFlag(t *testing.T) {
	dir := t.TempDir()
	gold, vm := filepath.Join(dir, "gold"), filepath.Join(dir, "vm")
	for _, d := range []string{gold, vm} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	base, leaf := filepath.Join(gold, "base.vhd"), filepath.Join(vm, "leaf.vhd")
	ok(t, "create", "-n", base, "-s", "8")
	fails(t, syscall.EACCES, "parent refused", "snapshot", "-n", leaf, "-p", base)
	ok(t, "snapshot", "-n", leaf, "-p", base, "--parent-dir", gold)

	fails(t, syscall.EACCES, "not in the child's folder", "query", "-n", leaf, "-d")
	wantOutput(t, "chain depth: 2\n", "query", "-n", leaf, "-d", "--parent-dir", gold)
	if out, _, code := vhdutil(t, "check", "-n", leaf); code != int(syscall.EINVAL) || !strings.Contains(out, "--parent-dir or GOTAP_PARENT_DIRS") {
		t.Errorf("check without the allowance = exit %d, %q; want the refusal and how to allow it", code, out)
	}
	valid := validLines(leaf, filepath.Join(gold, "base.vhd"))
	wantOutput(t, valid, "check", "-n", leaf, "-p", "--parent-dir", gold)
	t.Setenv(libvhd.ParentDirsEnv, "/nonexistent:"+gold)
	wantOutput(t, valid, "check", "-n", leaf, "-p")
}

// The real binary checks a small file declaring a million blocks, each
// lying over metadata and the others, in well under 100 MB and a second
// of CPU (CPU, not wall-clock time: other tests share the machine), and
// reports it in a few lines that count the rest.
func TestCheckHugeTableRSS(t *testing.T) {
	timeBin := vhdtest.RequireTool(t, "time")
	bin := filepath.Join(t.TempDir(), "vhd-util")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tests := []struct {
		name  string
		entry func(i int, l vhdtest.Layout) uint32
	}{
		{"every block at 0x600", func(int, vhdtest.Layout) uint32 { return 3 }},
		{"each block a sector after the last", func(i int, l vhdtest.Layout) uint32 { return uint32(l.TableOff/512) + uint32(i) }},
		{"every block past the end of the file", func(i int, l vhdtest.Layout) uint32 { return uint32(len(l.File)/512) + uint32(i) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "huge.vhd")
			ok(t, "create", "-n", path, "-s", "2000G")
			l := vhdtest.ReadLayout(t, path)
			if l.Entries < 1000000 || len(l.File) > 6<<20 {
				t.Fatalf("%d entries in %d bytes; want a million in a small file", l.Entries, len(l.File))
			}
			for i := range l.Entries {
				binary.BigEndian.PutUint32(l.File[l.TableOff+4*int64(i):], tt.entry(i, l))
			}
			if err := os.WriteFile(path, l.File, 0o644); err != nil {
				t.Fatal(err)
			}
			// GNU time reports the command's own peak RSS: the rusage of a
			// child of this (large) test process would count the parent's
			// pages, which exec records as the child's high-water mark.
			rssFile := filepath.Join(t.TempDir(), "rss")
			cmd := exec.Command(timeBin, "-f", "%M", "-o", rssFile, bin, "check", "-n", path, "-b")
			var errb bytes.Buffer
			cmd.Stderr = &errb // gotap's problems; stdout has blktap's report
			out, _ := cmd.Output()
			took := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			kib, err := os.ReadFile(rssFile)
			if err != nil {
				t.Fatal(err)
			}
			// After "Command exited with non-zero status 2" when it did.
			fields := append([]string{""}, strings.Fields(string(kib))...)
			rss, err := strconv.ParseInt(fields[len(fields)-1], 10, 64)
			if err != nil {
				t.Fatalf("time -f %%M: %q: %v", kib, err)
			}
			rss <<= 10
			lines := strings.Count(errb.String(), "\n")
			if code := cmd.ProcessState.ExitCode(); code != int(syscall.EINVAL) || !strings.Contains(errb.String(), " more: ") || !strings.Contains(string(out), " clobbers ") {
				t.Errorf("check = exit %d, %q, stderr %q; want exit %d, blktap's reason and counted problems", code, out, errb.String(), int(syscall.EINVAL))
			}
			if took > time.Second || rss > 100<<20 || lines > 40 {
				t.Errorf("check took %v of CPU, %d MiB RSS, %d lines; want under a second, 100 MiB, 40 lines", took, rss>>20, lines)
			}
		})
	}
}
