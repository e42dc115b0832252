package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// nbdshWriteNoFlush writes the pattern WRITES names over NBD, never
// flushing, prints "acked" once every write has been acknowledged, and
// holds the connection open until its stdin closes: tapdisk is killed
// meanwhile, with nothing that could have flushed.
const nbdshWriteNoFlush = `
import sys
h.connect_uri(URI)
for off, n, b in WRITES:
    h.pwrite(bytes([b]) * n, off)
print("acked", flush=True)
sys.stdin.read()
`

// killWrites land in new blocks, in a block already holding data, across
// a block boundary, and in single sectors: blocks 0, 1, 2, 4 and 10.
var killWrites = []struct {
	off, n int64
	b      byte
}{
	{0, 64 << 10, 0x11},
	{8 << 20, 4 << 10, 0x22},
	{8<<20 + 12<<10, 4 << 10, 0x33}, // same block, new sectors
	{4<<20 - 2<<10, 8 << 10, 0x44},  // across two blocks
	{20<<20 + 512, 1024, 0x55},      // two sectors, new block
	{20<<20 + 4096, 512, 0x66},      // one more in that block
}

// Acknowledged writes without a flush, then kill -9: by default every
// acknowledged byte is there after a restart (judged over NBD by
// qemu-img compare against the expected bytes); with --defer-metadata
// they may be lost, but the image is valid either way.
func TestKillAfterUnflushedWrites(t *testing.T) {
	py := nbdshPython(t)
	qemuImg := vhdtest.RequireTool(t, "qemu-img")
	for _, mode := range []struct {
		name  string
		flags []string
		keeps bool // every acknowledged write survives
	}{
		{"default", nil, true},
		{"defer-metadata", []string{"--defer-metadata"}, false},
	} {
		t.Run(mode.name, func(t *testing.T) {
			const size = 32 << 20
			img := newVHD(t, size)
			want := make([]byte, size)
			var writes []string
			for _, w := range killWrites {
				copy(want[w.off:w.off+w.n], bytes.Repeat([]byte{w.b}, int(w.n)))
				writes = append(writes, "("+itoa(w.off)+", "+itoa(w.n)+", "+itoa(int64(w.b))+")")
			}
			flags := append([]string{"--flush-interval", "0"}, mode.flags...)
			p := start(t, t.TempDir(), []string{"vhd:" + img}, flags...)

			cmd := exec.Command(py, "-m", "nbd", "-c", "URI = '"+p.uris[0]+"'",
				"-c", "WRITES = ["+strings.Join(writes, ", ")+"]", "-c", nbdshWriteNoFlush)
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if line != "acked\n" {
				stdin.Close()
				cmd.Wait()
				t.Fatalf("nbdsh: %q\n%s", line, stderr.String())
			}
			if mode.keeps {
				// Offline tools see the live disk as it is (vhd-util
				// query -a, tapmon's chain view).
				if got, want := allocatedBlocks(t, img), 5; got != want {
					t.Errorf("live image: %d blocks allocated on disk, want %d", got, want)
				}
			}
			p.cmd.Process.Kill()
			p.wait(t)
			stdin.Close()
			cmd.Wait()

			problems, err := libvhd.Check(img, libvhd.CheckOptions{Bitmaps: true})
			if err != nil || len(problems) > 0 {
				t.Fatalf("image invalid after kill -9: %v %v", err, problems)
			}
			if !mode.keeps {
				return
			}
			model := filepath.Join(t.TempDir(), "want.raw")
			if err := os.WriteFile(model, want, 0o644); err != nil {
				t.Fatal(err)
			}
			again := start(t, t.TempDir(), []string{"vhd:" + img})
			out, err := exec.Command(qemuImg, "compare", "-f", "raw", "-F", "raw", again.uris[0], model).CombinedOutput()
			if err != nil {
				t.Errorf("after kill -9 and a restart, the disk is not what was acknowledged: %v\n%s", err, out)
			}
		})
	}
}

// allocatedBlocks reads the BAT as an inspecting tool does, beside the
// tapdisk writing the image.
func allocatedBlocks(t *testing.T, path string) int {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true, NoLock: true, NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	return im.AllocatedBlocks()
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// nbdshPython is the python3 that has libnbd's module: nbdsh is
// `python3 -m nbd` with the first python3 on PATH, which may lack it
// (pyenv); the system's has it.
func nbdshPython(t *testing.T) string {
	t.Helper()
	vhdtest.RequireTool(t, "nbdsh")
	if exec.Command("python3", "-c", "import nbd").Run() == nil {
		return "python3"
	}
	return "/usr/bin/python3"
}
