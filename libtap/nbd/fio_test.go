package nbd_test

import (
	"os"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// fioRuntime is how long each fio run lasts: short here; the acceptance
// run sets NBD_FIO_RUNTIME=60.
func fioRuntime() string {
	if s := os.Getenv("NBD_FIO_RUNTIME"); s != "" {
		return s
	}
	return "10"
}

// TestFioVerify drives random mixed I/O at depth 32 over two connections
// (one per job, each in its own half of the disk) and verifies every
// block it wrote.
func TestFioVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("fio runs for seconds")
	}
	const size = 128 << 20
	dir := t.TempDir()
	base := vhdDisk(t, dir, "base.vhd", size, "")
	writeVHD(t, base, 0, 3<<20, 70<<20)
	for _, tc := range []struct {
		name, spec string
		noDirect   bool
	}{
		{"aio", "aio:" + rawDisk(t, size), false},
		{"aio-buffered", "aio:" + rawDisk(t, size), true}, // writes made inline
		{"vhd", "vhd:" + vhdDisk(t, t.TempDir(), "d.vhd", size, ""), false},
		{"vhd-diff", "vhd:" + vhdDisk(t, dir, "child.vhd", 0, base), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serveOpened(t, tc.spec, tc.noDirect)
			r := vhdtest.StartFio(t, s.uri(), "--iodepth=32", "--numjobs=2",
				"--size=64M", "--offset_increment=64M", "--runtime="+fioRuntime()).Wait(t)
			t.Logf("fio %s: read %s KiB, wrote %s KiB, no errors", tc.name, r.ReadKiB, r.WrittenKiB)
		})
	}
}
