package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libtap/livesnap"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

const (
	diskSize   = 64 << 20
	markerBase = diskSize / 2 // fio writes the first half, markers go in the second
	markerLen  = 64 << 10
)

// TestSnapshotsThenCoalesceUnderFio takes 20 snapshots while fio writes
// and verifies, then shrinks the chain back while fio goes on: fio sees
// no error; the chain is 21 deep and valid, and the marker written just
// before snapshot k is in parent k while the one written after it is
// not; after the coalesces the chain is 2 deep and valid, and every
// marker reads where it was written.
func TestSnapshotsThenCoalesceUnderFio(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-io")
	e := clitest.New(t)
	base := filepath.Join(t.TempDir(), "disk.vhd")
	e.Must(t, "vhd-util", "create", "-n", base, "-s", "64")
	uri := strings.TrimSpace(e.Must(t, "tap-ctl", "create", "-a", "vhd:"+base))

	// 20 snapshots take 10 s alone, more under load; the coalesces a
	// few seconds more.
	fio := vhdtest.StartFio(t, uri, "--iodepth=16", "--numjobs=2",
		"--size=16M", "--offset_increment=16M", "--runtime=60")
	time.Sleep(time.Second) // let fio connect and get going

	const n = 20
	parents := []string{base}
	for k := 1; k <= n; k++ {
		writeMarker(t, uri, k, before(k))
		leaf := strings.TrimSpace(e.Must(t, "xmsnap", "0"))
		writeMarker(t, uri, k, after(k))
		parents = append(parents, leaf)
	}
	leaf := parents[n]
	if got := e.Must(t, "vhd-util", "query", "-d", "-n", leaf); got != fmt.Sprintf("chain depth: %d\n", n+1) {
		t.Errorf("vhd-util query -d = %q; want chain depth %d", got, n+1)
	}
	// The parents are read-only: readable beside the tapdisk.
	for k := 1; k <= n; k++ {
		if got := readMarker(t, parents[k-1], k); got != before(k) {
			t.Errorf("parent %d holds marker %#x; want %#x, written just before snapshot %d", k, got, before(k), k)
		}
	}

	// Everything between the leaf and the base merges into the base.
	merged := coalesce(t, e, "0")
	if want := parents[1:n]; !slices.Equal(merged.Merged, reversed(want)) {
		t.Errorf("merged %q; want %q", merged.Merged, reversed(want))
	}
	for _, p := range merged.Merged {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("merged image %s: %v; kept without --remove", p, err)
		}
	}
	for k := 1; k <= n; k++ {
		want := after(k)
		if k == n {
			want = before(n) // after(n) is in the leaf
		}
		if got := readMarker(t, base, k); got != want {
			t.Errorf("after the coalesce the base holds marker %#x for snapshot %d; want %#x", got, k, want)
		}
	}
	// Then the leaf too: a snapshot, and the old leaf into the base.
	withLeaf := coalesce(t, e, "--leaf", "--remove", "0")
	if !slices.Equal(withLeaf.Merged, []string{leaf}) || !slices.Equal(withLeaf.Removed, withLeaf.Merged) || len(withLeaf.Pauses) != 2 {
		t.Errorf("coalesce --leaf --remove = %+v; want the old leaf merged and removed, two pauses", withLeaf)
	}
	if _, err := os.Stat(leaf); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the old leaf after --remove: %v", err)
	}
	if !fio.Running() {
		t.Fatal("fio ended before the coalesces did")
	}
	fio.Wait(t)
	e.Must(t, "tap-ctl", "destroy", "-m", "0")

	top := withLeaf.Leaf
	if got := e.Must(t, "vhd-util", "query", "-d", "-n", top); got != "chain depth: 2\n" {
		t.Errorf("vhd-util query -d after the coalesces = %q; want chain depth 2", got)
	}
	e.Must(t, "vhd-util", "check", "-p", "-n", top)
	for k := 1; k <= n; k++ {
		if got := readMarker(t, base, k); got != after(k) {
			t.Errorf("the base holds marker %#x for snapshot %d; want %#x", got, k, after(k))
		}
	}
	t.Logf("pauses: coalesce %v, coalesce --leaf %v", merged.Pauses, withLeaf.Pauses)
}

// coalesce runs xmsnap coalesce --json with args.
func coalesce(t *testing.T, e *clitest.Env, args ...string) livesnap.CoalesceResult {
	t.Helper()
	var res livesnap.CoalesceResult
	out := e.Must(t, "xmsnap", append([]string{"coalesce", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("xmsnap coalesce --json: %v\n%s", err, out)
	}
	if res.Sectors <= 0 {
		t.Errorf("coalesce %q copied %d sectors", args, res.Sectors)
	}
	return res
}

func reversed(s []string) []string {
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

func before(k int) byte { return byte(k) }
func after(k int) byte  { return byte(0x80 + k) }

func writeMarker(t *testing.T, uri string, k int, b byte) {
	t.Helper()
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", fmt.Sprintf("write -P %d %d %d", b, markerBase+k*markerLen, markerLen), uri)
}

// readMarker reads marker k through the image's chain: the byte it is
// filled with, or 0xff if it is not uniform.
func readMarker(t *testing.T, path string, k int) byte {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	buf := make([]byte, markerLen)
	if _, err := im.ReadAt(buf, int64(markerBase+k*markerLen)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, bytes.Repeat(buf[:1], markerLen)) {
		return 0xff
	}
	return buf[0]
}

// TestReadOnlyFolder: when the new leaf cannot be created, xmsnap fails
// and the disk keeps serving its original image. The folder is made
// immutable with chattr +i: the tests run as root, who ignores mode
// bits, and the file's own data stays writable, as the disk needs.
func TestReadOnlyFolder(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-io")
	chattr := vhdtest.RequireTool(t, "chattr")
	e := clitest.New(t)
	dir := filepath.Join(t.TempDir(), "ro")
	os.Mkdir(dir, 0o755)
	img := filepath.Join(dir, "disk.vhd")
	e.Must(t, "vhd-util", "create", "-n", img, "-s", "64")
	uri := strings.TrimSpace(e.Must(t, "tap-ctl", "create", "-a", "vhd:"+img))
	writeMarker(t, uri, 0, 0x5a)
	if out, err := exec.Command(chattr, "+i", dir).CombinedOutput(); err != nil {
		if vhdtest.InCI() {
			t.Fatalf("chattr +i: %v: %s", err, out)
		}
		t.Skipf("chattr +i needs root and a file system with attributes: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command(chattr, "-i", dir).Run() })

	_, stderr, code := e.Run(t, "xmsnap", img)
	if code != exitFail || !strings.Contains(stderr, "snapshot") {
		t.Errorf("xmsnap in a read-only folder: exit %d, %q; want %d and why", code, stderr, exitFail)
	}
	if got, want := e.Must(t, "tap-ctl", "list"), "args=vhd:"+img+"\n"; !strings.HasSuffix(got, "state=0 "+want) {
		t.Errorf("list after the failed snapshot = %q; want the original image, running", got)
	}
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", fmt.Sprintf("read -P 0x5a %d %d", markerBase, markerLen), uri)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d files; want only the image", len(entries))
	}
	exec.Command(chattr, "-i", dir).Run()
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
}

// TestDeadTapdisk: xmsnap on a killed tapdisk's disk fails, saying so.
func TestDeadTapdisk(t *testing.T) {
	e := clitest.New(t)
	img := filepath.Join(t.TempDir(), "a.img")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)
	e.Must(t, "tap-ctl", "create", "-a", "aio:"+img)
	var pid int
	fmt.Sscanf(e.Must(t, "tap-ctl", "list"), "pid=%d", &pid)
	p, _ := os.FindProcess(pid)
	p.Kill()
	for deadline := time.Now().Add(5 * time.Second); len(e.Running(t)) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	_, stderr, code := e.Run(t, "xmsnap", "0")
	if code != exitFail || !strings.Contains(stderr, "dead") {
		list, _, _ := e.Run(t, "tap-ctl", "list")
		t.Errorf("xmsnap on a dead tapdisk: exit %d, %q; want %d, saying it is dead (tap-ctl list: %q)", code, stderr, exitFail, list)
	}
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
}

// TestFilteredDisk: a disk served under filter layers is snapshotted by
// its path, and the new leaf is served under the same layers.
func TestFilteredDisk(t *testing.T) {
	e := clitest.New(t)
	img := filepath.Join(t.TempDir(), "f.vhd")
	e.Must(t, "vhd-util", "create", "-n", img, "-s", "16")
	e.Must(t, "tap-ctl", "create", "-a", "valve:rbps=100M:vhd:"+img)
	leaf := strings.TrimSpace(e.Must(t, "xmsnap", img))
	if got, want := e.Must(t, "tap-ctl", "list"), "args=valve:rbps=100M:vhd:"+leaf+"\n"; !strings.HasSuffix(got, want) {
		t.Errorf("list after the snapshot = %q; want it to end %q", got, want)
	}
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
	e.Must(t, "vhd-util", "check", "-n", leaf, "-p")
}
