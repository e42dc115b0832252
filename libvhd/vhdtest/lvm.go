package vhdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// vgCount keeps the volume groups of one test process apart.
var vgCount atomic.Int32

// VolumeGroup makes an LVM volume group on a loop device over a file, with
// one logical volume "base" of size bytes (a multiple of 1 MiB), and
// returns the group's folder (/dev/VG) and the volume's path in it, a link
// to its block device. Both go at the end of the test. It needs root and
// LVM's tools (make test-deps installs them): without them it skips, and
// fails in CI. On a kernel without device-mapper, where LVM cannot
// activate a volume, a folder of the same shape stands for the group: a
// link "base" to a loop device, as udev and LVM lay out /dev/VG.
func VolumeGroup(t testing.TB, size int64) (vg, lv string) {
	t.Helper()
	if os.Geteuid() != 0 {
		missing(t, "an LVM volume group needs root")
	}
	for _, tool := range []string{"losetup", "pvcreate", "vgcreate", "lvcreate", "vgremove", "pvremove", "dmsetup"} {
		RequireTool(t, tool)
	}
	backing := filepath.Join(t.TempDir(), "pv.img")
	if err := os.WriteFile(backing, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size+8<<20); err != nil {
		t.Fatal(err)
	}
	pv := LoopDevice(t, backing)
	if exec.Command("dmsetup", "version").Run() != nil {
		t.Log("no device-mapper in this kernel: a folder of links to a loop device stands for the volume group")
		vg = filepath.Join(t.TempDir(), "vg")
		mkdir(t, vg)
		lv = filepath.Join(vg, "base")
		if err := os.Symlink(pv, lv); err != nil {
			t.Fatal(err)
		}
		return vg, lv
	}
	name := fmt.Sprintf("gotaptest%d_%d", os.Getpid(), vgCount.Add(1))
	// No udev in containers: LVM makes the device nodes itself.
	noUdev := []string{"--config", "activation { udev_sync = 0 udev_rules = 0 }"}
	lvm := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], append(noUdev, args[1:]...)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	lvm("pvcreate", "-q", pv)
	t.Cleanup(func() { exec.Command("pvremove", append(noUdev, "-q", "-f", pv)...).Run() })
	lvm("vgcreate", "-q", "-s", "1M", name, pv)
	t.Cleanup(func() { exec.Command("vgremove", append(noUdev, "-q", "-f", name)...).Run() })
	lvm("lvcreate", "-q", "-y", "-L", fmt.Sprintf("%dB", size), "-n", "base", name)
	return filepath.Join("/dev", name), filepath.Join("/dev", name, "base")
}
