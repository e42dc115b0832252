package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

const coalesceMB = 24

// randomChain makes base.vhd (or with raw base.raw) and c1..c3 on it with
// vhd-util, each given random writes; views[i] is how image i reads.
func randomChain(t *testing.T, dir string, raw bool) (paths []string, views [][]byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 11))
	model := make([]byte, coalesceMB<<20)
	write := func(path string, n int) {
		for range n {
			off := int64(rng.IntN(len(model)/512-256) * 512)
			buf := make([]byte, 512*(1+rng.IntN(256)))
			for i := range buf {
				buf[i] = byte(rng.Uint32())
			}
			writeData(t, path, buf, off)
			copy(model[off:], buf)
		}
	}
	base := filepath.Join(dir, "base.vhd")
	if raw {
		base = filepath.Join(dir, "base.raw")
		for i := range model {
			model[i] = byte(i / 4096)
		}
		if err := os.WriteFile(base, model, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		ok(t, "create", "-n", base, "-s", fmt.Sprint(coalesceMB))
		write(base, 10)
	}
	paths, views = []string{base}, [][]byte{bytes.Clone(model)}
	for i := 1; i <= 3; i++ {
		path := filepath.Join(dir, fmt.Sprintf("c%d.vhd", i))
		args := []string{"snapshot", "-n", path, "-p", paths[i-1]}
		if raw && i == 1 {
			args = append(args, "-m")
		}
		ok(t, args...)
		write(path, 40)
		paths, views = append(paths, path), append(views, bytes.Clone(model))
	}
	return paths, views
}

// held counts the sectors an image holds itself.
func held(t *testing.T, path string) int64 {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true, NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	exts, err := im.AppendExtents(nil, 0, im.Size())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, e := range exts {
		if e.Layer == 0 {
			n += e.Length / libvhd.SectorSize
		}
	}
	return n
}

// readChain is path's virtual disk through its chain.
func readChain(t *testing.T, path string) []byte {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	b := make([]byte, im.Size())
	if _, err := im.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// judgeVPC compares a standalone VHD with the model through qemu-img.
func judgeVPC(t *testing.T, img string, model []byte) {
	t.Helper()
	raw := filepath.Join(t.TempDir(), "model.raw")
	if err := os.WriteFile(raw, model, 0o644); err != nil {
		t.Fatal(err)
	}
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", img, raw)
}

// Acceptance 1: each level of a 3-deep chain coalesced in turn; the
// count is what the child held; the parent reads as the child did (qemu
// judges the standalone base, libvhd the differencing ones); check -p
// passes. Into a raw base: cmp with the model.
func TestAcceptanceCoalesce(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	vhdtest.RequireTool(t, "cmp")
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw base %v", raw), func(t *testing.T) {
			paths, views := randomChain(t, t.TempDir(), raw)
			for i := 3; i >= 1; i-- {
				child, parent := paths[i], paths[i-1]
				want := fmt.Sprintf("Coalesced %d sectors", held(t, child))
				// stderr is no terminal here: no progress bar either.
				if out, errs, code := vhdutil(t, "coalesce", "-n", child); out != want || errs != "" || code != 0 {
					t.Fatalf("coalesce -n %s = exit %d, %q, stderr %q; want %q and nothing on stderr", child, code, out, errs, want)
				}
				var chain []string // the parents check -p reads: VHDs
				for j := i - 1; j >= 0 && !(raw && j == 0); j-- {
					chain = append(chain, paths[j])
				}
				wantOutput(t, validLines(child, chain...), "check", "-n", child, "-p")
				switch {
				case raw && i == 1:
					model := filepath.Join(t.TempDir(), "model.raw")
					os.WriteFile(model, views[3], 0o644)
					vhdtest.Run(t, "cmp", parent, model)
				case i == 1:
					judgeVPC(t, parent, views[3])
				default:
					if !bytes.Equal(readChain(t, parent), views[3]) {
						t.Fatalf("%s does not read as %s did", parent, child)
					}
				}
			}
		})
	}
}

// -a over three images, -p and -s output, --json.
func TestCoalesceOptions(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	paths, views := randomChain(t, t.TempDir(), false)
	out := ok(t, "coalesce", "-n", paths[3], "-a", paths[0], "-p")
	if !regexp.MustCompile(`^\r  0\.00%(\r *\d+\.\d\d%)*\r100\.00%\nCoalesced \d+ sectors$`).MatchString(out) {
		t.Errorf("coalesce -p printed %q", out)
	}
	judgeVPC(t, paths[0], views[3])
	wantOutput(t, paths[0]+" is valid\n", "check", "-n", paths[0])

	out = ok(t, "coalesce", "-n", paths[1], "-s", "--json")
	for _, want := range []string{`"target": "` + paths[0] + `"`, `"sectors": ` + fmt.Sprint(held(t, paths[1]))} {
		if !strings.Contains(out, want) {
			t.Errorf("coalesce --json = %s; want it to contain %s", out, want)
		}
	}
	if out := ok(t, "coalesce", "-n", paths[2], "-s"); !strings.HasPrefix(out, "opening for sparse writes\nCoalesced ") {
		t.Errorf("coalesce -s = %q; want blktap's sparse line first", out)
	}
}

// Bad input: blktap's texts on stdout, the error on stderr, nothing
// written.
func TestCoalesceBadInput(t *testing.T) {
	dir := t.TempDir()
	base, child := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "child.vhd")
	ok(t, "create", "-n", base, "-s", "8")
	ok(t, "snapshot", "-n", child, "-p", base)
	writeData(t, child, bytes.Repeat([]byte{1}, 4096), 0)

	out, errs, code := vhdutil(t, "coalesce", "-n", base)
	if want := "coalescing of non-differencing disks is not supported\nerror coalescing: -22\n"; out != want || code != int(syscall.EINVAL) || !strings.Contains(errs, "not a differencing image") {
		t.Errorf("coalesce of a dynamic image = exit %d, %q, %q; want exit %d and %q", code, out, errs, int(syscall.EINVAL), want)
	}
	im, err := libvhd.Open(base, libvhd.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, errs, code = vhdutil(t, "coalesce", "-n", child)
	im.Close()
	if out != "error coalescing: -16\n" || code != int(syscall.EBUSY) || !strings.Contains(errs, "in use by another process") {
		t.Errorf("coalesce into a parent in use = exit %d, %q, %q; want exit 1, error coalescing: -16", code, out, errs)
	}
	fails(t, syscall.EINVAL, "missing flags", "coalesce")
	fails(t, syscall.EINVAL, "not an ancestor", "coalesce", "-n", child, "-a", child)
}

// A full file system during a coalesce (a small tmpfs): ENOSPC, the chain
// through the child unchanged, the parent valid; with room again,
// coalescing again finishes.
func TestCoalesceFullFileSystem(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=12m"); err != nil {
		if vhdtest.InCI() {
			t.Fatalf("mount a small tmpfs: %v", err)
		}
		t.Skipf("mount a small tmpfs: %v (needs root)", err)
	}
	defer syscall.Unmount(dir, 0)
	base, child := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "child.vhd")
	ok(t, "create", "-n", base, "-s", "64")
	ok(t, "snapshot", "-n", child, "-p", base)
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i/512 + 1)
	}
	writeData(t, child, data, 0)
	want := readChain(t, child)

	out, errs, code := vhdutil(t, "coalesce", "-n", child)
	if out != "error coalescing: -28\n" || code != int(syscall.ENOSPC) || !strings.Contains(errs, "no space left on device") {
		t.Fatalf("coalesce on a full file system = exit %d, %q, %q; want exit 3, error coalescing: -28", code, out, errs)
	}
	if !bytes.Equal(readChain(t, child), want) {
		t.Fatal("the chain through the child changed")
	}
	wantOutput(t, validLines(child, base), "check", "-n", child, "-p")
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=32m"); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, fmt.Sprintf("Coalesced %d sectors", held(t, child)), "coalesce", "-n", child)
	if !bytes.Equal(readChain(t, base), want) {
		t.Fatal("the base does not read as the child after coalescing again")
	}
}
