package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libtap/control"
	"gotap.dev/libvhd/vhdtest"
)

// qemuIOVerify reads through uri with qemu-io and fails unless every
// byte matches (qemu-io reports a mismatch on stdout, not in its status).
func qemuIOVerify(t *testing.T, uri, cmd string) {
	t.Helper()
	out := vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", cmd, uri)
	if strings.Contains(out, "Pattern verification failed") || strings.Contains(out, "failed") {
		t.Fatalf("qemu-io %q: %s", cmd, out)
	}
}

// memTotal is the machine's memory in bytes.
func memTotal(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		t.Skip(err)
	}
	var kb int64
	if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err != nil {
		t.Skipf("/proc/meminfo: %v", err)
	}
	return kb << 10
}

// TestRAMRefusedAndKept: a ram disk larger than the machine is refused
// with ENOMEM, and the tapdisk's other disk goes on serving its data;
// a ram disk keeps its data across 10 pause/unpause cycles.
func TestRAMRefusedAndKept(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-io")
	p := start(t, t.TempDir(), []string{"ram:64M"})
	c := p.client(t)
	ctx := context.Background()
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", "write -P 0x5c 3M 1M", "-c", "write -P 0xc5 63M 1M", p.uris[0])

	huge := fmt.Sprintf("ram:%dM", 2*memTotal(t)>>20)
	_, err := c.Open(ctx, control.OpenRequest{Minor: 1, Image: huge})
	if !errors.Is(err, syscall.ENOMEM) {
		t.Fatalf("Open(%s) = %v; want ENOMEM", huge, err)
	}
	if !p.alive() {
		t.Fatal("tapdisk died opening a ram disk larger than memory")
	}
	qemuIOVerify(t, p.uris[0], "read -P 0x5c 3M 1M")

	for i := range 10 {
		if err := c.Pause(ctx, 0); err != nil {
			t.Fatalf("pause %d: %v", i, err)
		}
		if err := c.Resume(ctx, 0, ""); err != nil {
			t.Fatalf("unpause %d: %v", i, err)
		}
	}
	qemuIOVerify(t, p.uris[0], "read -P 0x5c 3M 1M")
	qemuIOVerify(t, p.uris[0], "read -P 0xc5 63M 1M")
	qemuIOVerify(t, p.uris[0], "read -P 0 0 3M")
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status = %d; want 0", code)
	}
}
