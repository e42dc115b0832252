package vhdtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// VhdimountTop mounts img's chain with libvhdi's vhdimount and returns
// the file that exposes the top layer, after checking libvhdi found all
// depth layers. The mount is undone before the test's folders are
// removed. Without FUSE it skips (fails in CI).
func VhdimountTop(t testing.TB, img string, depth int) string {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		missing(t, "vhdimount needs FUSE: %v", err)
	}
	dir := t.TempDir()
	Run(t, "vhdimount", img, dir)
	t.Cleanup(func() { Run(t, "fusermount3", "-u", dir) })
	// vhdi1 is the base, vhdiN the image named on the command line.
	layers, err := filepath.Glob(filepath.Join(dir, "vhdi*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != depth {
		t.Fatalf("vhdimount %s exposes %q; want %d layers", img, layers, depth)
	}
	return filepath.Join(dir, "vhdi"+strconv.Itoa(depth))
}
