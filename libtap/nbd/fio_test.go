package nbd_test

import (
	"os"
	"os/exec"
	"strings"
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
	vhdtest.RequireTool(t, "fio")
	if out, _ := exec.Command("fio", "--enghelp=nbd").CombinedOutput(); !strings.Contains(string(out), "uri") {
		vhdtest.RequireTool(t, "fio with the nbd ioengine")
	}
	const size = 128 << 20
	dir := t.TempDir()
	base := vhdDisk(t, dir, "base.vhd", size, "")
	writeVHD(t, base, 0, 3<<20, 70<<20)
	for _, tc := range []struct{ name, spec string }{
		{"aio", "aio:" + rawDisk(t, size)},
		{"vhd", "vhd:" + vhdDisk(t, t.TempDir(), "d.vhd", size, "")},
		{"vhd-diff", "vhd:" + vhdDisk(t, dir, "child.vhd", 0, base)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.spec)
			out := vhdtest.Run(t, "fio", "--name=nbd", "--ioengine=nbd", "--uri="+s.uri(),
				"--rw=randrw", "--bs=4k", "--iodepth=32", "--numjobs=2",
				"--size=64M", "--offset_increment=64M",
				"--time_based", "--runtime="+fioRuntime(),
				"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_backlog=1024",
				"--verify_state_save=0", // no state files left in the package folder
				"--group_reporting", "--output-format=terse", "--terse-version=3")
			// Terse v3: field 5 is the error count; io in KiB at 6 (read)
			// and 47 (write).
			f := strings.Split(strings.TrimSpace(out), ";")
			if len(f) < 48 || f[4] != "0" {
				t.Fatalf("fio reported errors:\n%s", out)
			}
			if f[5] == "0" || f[46] == "0" {
				t.Fatalf("fio moved no data (read %s KiB, written %s KiB):\n%s", f[5], f[46], out)
			}
			t.Logf("fio %s: read %s KiB, wrote %s KiB, errors %s", tc.name, f[5], f[46], f[4])
		})
	}
}
