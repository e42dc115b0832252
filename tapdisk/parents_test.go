package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
	"gotap.dev/libvhd/vhdtest/vhdcreate"
)

// Every hostile image is refused with an error naming the image, the
// locator and the rule, on the command line and through the control
// socket (within a second: the command line's bound is looser, as it
// counts starting a process on a machine other tests share), and no
// minor serves it; the tapdisk serving its other disk answers throughout.
func TestHostileImagesRefused(t *testing.T) {
	images := vhdtest.HostileImages(t, vhdcreate.Create)
	p := start(t, t.TempDir(), []string{"ram:1M"})
	c := p.client(t)
	for _, h := range images {
		t.Run(h.Name, func(t *testing.T) {
			wantRefusal := func(how, msg string, took, limit time.Duration) {
				t.Helper()
				if took > limit {
					t.Errorf("%s: refused after %v; want within %v", how, took, limit)
				}
				if !strings.Contains(msg, h.Want) || !strings.Contains(msg, h.Path) || h.Locator && !strings.Contains(msg, "locator[") {
					t.Errorf("%s: %q; want it to name %s, a locator (%v) and %q", how, msg, h.Path, h.Locator, h.Want)
				}
			}

			cmd := exec.Command(binary, "--run-dir", t.TempDir(), "vhd:"+h.Path)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			begin := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			timer := time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() })
			cmd.Wait()
			timer.Stop()
			wantRefusal("command line", stderr.String(), time.Since(begin), 3*time.Second)
			if code := cmd.ProcessState.ExitCode(); code != exitFail || stdout.Len() != 0 {
				t.Errorf("command line: exit %d, stdout %q; want exit %d and no URI", code, stdout.String(), exitFail)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			begin = time.Now()
			_, err := c.Open(ctx, control.OpenRequest{Minor: 1, Image: "vhd:" + h.Path})
			if err == nil {
				t.Fatal("control Open succeeded; want a refusal")
			}
			wantRefusal("control Open", err.Error(), time.Since(begin), time.Second)
			if infos, err := c.List(ctx); err != nil || len(infos) != 1 {
				t.Errorf("List() = %+v, %v; want the ram disk only", infos, err)
			}
		})
	}
	// A refused parent is EACCES, for tap-ctl to exit with.
	for _, h := range images {
		if h.Locator && strings.Contains(h.Want, "not in the child's folder") {
			_, err := c.Open(context.Background(), control.OpenRequest{Minor: 1, Image: "vhd:" + h.Path})
			if !errors.Is(err, syscall.EACCES) {
				t.Errorf("%s: control Open = %v; want EACCES", h.Name, err)
			}
			break
		}
	}
}

// Chains laid out as operators lay them out are served with their
// parent's data: beside the child, in a folder allowed by --parent-dir
// or $GOTAP_PARENT_DIRS, and a raw parent on an LVM volume when its
// volume group is allowed; not without the allowance.
func TestLegitimateChainsServed(t *testing.T) {
	vhdtest.RequireTool(t, "nbdcopy")
	pattern := bytes.Repeat([]byte("gold"), 1<<18) // 1 MiB
	vhdBase := func(t *testing.T, path string) string {
		im, err := libvhd.Create(path, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: 4 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := im.WriteAt(pattern, 0); err != nil {
			t.Fatal(err)
		}
		if err := im.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	// leaf snapshots base into dir, allowing allow.
	leaf := func(t *testing.T, dir, base string, raw bool, allow ...string) string {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "leaf.vhd")
		im, err := libvhd.Snapshot(path, base, libvhd.SnapshotOptions{ParentRaw: raw, ParentDirs: allow})
		if err != nil {
			t.Fatal(err)
		}
		if err := im.Close(); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name string
		// setup returns the leaf and tapdisk's flags; env, if not "",
		// is $GOTAP_PARENT_DIRS.
		setup   func(t *testing.T, dir string) (leaf string, flags []string, env string)
		refused string
	}{
		{"same folder", func(t *testing.T, dir string) (string, []string, string) {
			return leaf(t, dir, vhdBase(t, filepath.Join(dir, "base.vhd")), false), nil, ""
		}, ""},
		{"allowed folder", func(t *testing.T, dir string) (string, []string, string) {
			gold := filepath.Join(dir, "gold")
			os.Mkdir(gold, 0o755)
			return leaf(t, filepath.Join(dir, "vm"), vhdBase(t, filepath.Join(gold, "base.vhd")), false, gold), []string{"--parent-dir", gold}, ""
		}, ""},
		{"allowed folder by environment", func(t *testing.T, dir string) (string, []string, string) {
			gold := filepath.Join(dir, "gold")
			os.Mkdir(gold, 0o755)
			return leaf(t, filepath.Join(dir, "vm"), vhdBase(t, filepath.Join(gold, "base.vhd")), false, gold), nil, gold
		}, ""},
		{"folder not allowed", func(t *testing.T, dir string) (string, []string, string) {
			gold := filepath.Join(dir, "gold")
			os.Mkdir(gold, 0o755)
			return leaf(t, filepath.Join(dir, "vm"), vhdBase(t, filepath.Join(gold, "base.vhd")), false, gold), nil, ""
		}, "not in the child's folder"},
		{"LVM volume group allowed", func(t *testing.T, dir string) (string, []string, string) {
			vg, lv := vhdtest.VolumeGroup(t, 4<<20)
			writeDevice(t, lv, pattern)
			return leaf(t, filepath.Join(dir, "vm"), lv, true, vg), []string{"--parent-dir", vg}, ""
		}, ""},
		{"LVM volume group not allowed", func(t *testing.T, dir string) (string, []string, string) {
			vg, lv := vhdtest.VolumeGroup(t, 4<<20)
			writeDevice(t, lv, pattern)
			return leaf(t, filepath.Join(dir, "vm"), lv, true, vg), nil, ""
		}, "a block device is a parent only in an allowed folder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, flags, env := tt.setup(t, dir)
			t.Setenv(libvhd.ParentDirsEnv, env)
			if tt.refused != "" {
				out, err := exec.Command(binary, append(append([]string{"--run-dir", t.TempDir()}, flags...), "vhd:"+path)...).CombinedOutput()
				if err == nil || !strings.Contains(string(out), tt.refused) {
					t.Errorf("tapdisk = %v, %q; want it refused: %q", err, out, tt.refused)
				}
				return
			}
			p := start(t, t.TempDir(), []string{"vhd:" + path}, flags...)
			got := filepath.Join(dir, "served.raw")
			vhdtest.Run(t, "nbdcopy", p.uris[0], got)
			b, err := os.ReadFile(got)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) < len(pattern) || !bytes.Equal(b[:len(pattern)], pattern) {
				t.Errorf("the served disk does not begin with the parent's data")
			}
			if code := p.stop(t); code != 0 {
				t.Errorf("tapdisk exited %d", code)
			}
		})
	}
}

// writeDevice writes b at the start of a block device.
func writeDevice(t *testing.T, dev string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}
