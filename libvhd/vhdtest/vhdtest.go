// Package vhdtest helps tests that judge VHD images with outside tools
// (qemu-img, vhdiinfo, vhdimount…) and with the interop samples in
// ../shared/vhd-samples. Under CI=true a missing tool or sample fails the
// test; elsewhere it skips it, saying what to install.
package vhdtest

import (
	"compress/bzip2"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// InCI reports whether missing prerequisites must fail rather than skip.
func InCI() bool { return os.Getenv("CI") == "true" }

func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// RequireTool returns the path of an executable, or skips (fails in CI).
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s not installed (make test-deps installs it)", name)
	}
	return p
}

// Run runs a command and returns its standard output; it fails the test
// with the command's stderr when it exits non-zero.
func Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	RequireTool(t, name)
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// SamplesDir is $VHD_SAMPLES_DIR, or shared/vhd-samples beside the
// checkout.
func SamplesDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("VHD_SAMPLES_DIR")
	if dir == "" {
		_, file, _, _ := runtime.Caller(0)
		// file is <checkout>/libvhd/vhdtest/vhdtest.go
		dir = filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "vhd-samples")
	}
	if _, err := os.Stat(filepath.Join(dir, "NOTES.md")); err != nil {
		missing(t, "VHD samples not found at %s (set VHD_SAMPLES_DIR)", dir)
	}
	return dir
}

// Sample returns the path of a sample, decompressed into a temporary
// folder when it ends in .bz2 (the original is never touched).
func Sample(t testing.TB, rel string) string {
	t.Helper()
	src := filepath.Join(SamplesDir(t), rel)
	if !strings.HasSuffix(src, ".bz2") {
		return src
	}
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(src), ".bz2"))
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, bzip2.NewReader(in)); err != nil {
		t.Fatalf("decompress %s: %v", src, err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return dst
}

// SpecialFile is a file no disk can live in, and what it is.
type SpecialFile struct{ Path, Kind string }

// SpecialFiles makes a FIFO and a listening Unix socket in dir and
// returns them with a character device and dir itself: what an image,
// a parent or a raw disk must be refused as, at once.
func SpecialFiles(t testing.TB, dir string) []SpecialFile {
	t.Helper()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return []SpecialFile{{fifo, "FIFO"}, {sock, "socket"}, {"/dev/null", "character device"}, {dir, "directory"}}
}
