package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd/vhdtest"
)

// TestStorageManagerOrder drives a disk as XenServer's storage manager
// does (allocate, spawn, attach, open, pause, unpause, close -t 120,
// detach, free: never create) and parses each output with its rules:
// the minor from the marker path, the pid, and stats' first line with
// json.loads, whose images count the requests each layer served.
func TestStorageManagerOrder(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-io")
	e := clitest.New(t)
	dir := t.TempDir()
	base, leaf := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "leaf.vhd")
	e.Must(t, "vhd-util", "create", "-n", base, "-s", "16")
	e.Must(t, "vhd-util", "snapshot", "-n", leaf, "-p", base)

	out := e.Must(t, "tap-ctl", "allocate")
	m := regexp.MustCompile(`/tapdisk-(\d+)$`).FindStringSubmatch(strings.TrimSpace(out))
	if m == nil {
		t.Fatalf("allocate printed %q; want the marker path", out)
	}
	minor := m[1]
	pid := strings.TrimSpace(e.Must(t, "tap-ctl", "spawn"))
	if _, err := strconv.Atoi(pid); err != nil {
		t.Fatalf("spawn printed %q; want the pid", pid)
	}
	e.Must(t, "tap-ctl", "attach", "-p", pid, "-m", minor)
	uri := strings.TrimSpace(e.Must(t, "tap-ctl", "open", "-p", pid, "-m", minor, "-a", "vhd:"+leaf))
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", "write -P 7 0 4096", "-c", "read -P 7 0 4096", "-c", "read 1M 4096", uri)

	stats := e.Must(t, "tap-ctl", "stats", "-p", pid, "-m", minor)
	first, _, _ := strings.Cut(stats, "\n")
	var s struct {
		Name   string    `json:"name"`
		Secs   [2]uint64 `json:"secs"`
		Images []struct {
			Name   string    `json:"name"`
			Hits   [2]uint64 `json:"hits"`
			Fail   [2]uint64 `json:"fail"`
			Driver struct {
				Type int    `json:"type"`
				Name string `json:"name"`
			} `json:"driver"`
		} `json:"images"`
		ENOSPC          *int    `json:"FIXME_enospc_redirect_count"`
		MirrorFailed    *int    `json:"nbd_mirror_failed"`
		ReqsOutstanding *int    `json:"reqs_outstanding"`
		ReadCaching     *string `json:"read_caching"`
	}
	if err := json.Unmarshal([]byte(first), &s); err != nil {
		t.Fatalf("stats' first line: %v\n%s", err, stats)
	}
	if s.Name != "vhd:"+leaf || s.Secs != [2]uint64{16, 8} || s.ENOSPC == nil || s.MirrorFailed == nil ||
		s.ReqsOutstanding == nil || s.ReadCaching == nil || *s.ReadCaching != "false" {
		t.Errorf("stats: %s", first)
	}
	images := fmt.Sprintf("%+v", s.Images)
	want := fmt.Sprintf("[{Name:%s Hits:[2 1] Fail:[0 0] Driver:{Type:4 Name:vhd}} {Name:%s Hits:[1 0] Fail:[0 0] Driver:{Type:4 Name:vhd}}]", leaf, base)
	if images != want {
		t.Errorf("stats images = %s; want %s (the leaf served both reads and the write, the base the read the leaf lacks)", images, want)
	}

	e.Must(t, "tap-ctl", "pause", "-p", pid, "-m", minor)
	e.Must(t, "tap-ctl", "unpause", "-p", pid, "-m", minor)
	e.Must(t, "tap-ctl", "close", "-p", pid, "-m", minor, "-t", "120")
	e.Must(t, "tap-ctl", "detach", "-p", pid, "-m", minor)
	e.Must(t, "tap-ctl", "free", "-m", minor)
	if left := e.Left(t); len(left) != 0 {
		t.Errorf("left in the run directory: %v", left)
	}
}
