package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseLVS(t *testing.T) {
	tests := []struct {
		name, out string
		want      []volume
		wantErr   bool
	}{
		{"active and inactive", "  VHD-a 8388608 /dev/vg/VHD-a -wi-a-----\n  VHD-b 4194304 /dev/vg/VHD-b -wi-------\n",
			[]volume{{"VHD-a", "/dev/vg/VHD-a", 8388608, true}, {"VHD-b", "/dev/vg/VHD-b", 4194304, false}}, false},
		{"a thin pool has no path", "  pool 1073741824  twi-a-tz--\n  VHD-a 8388608 /dev/vg/VHD-a -wi-a-----\n",
			[]volume{{"VHD-a", "/dev/vg/VHD-a", 8388608, true}}, false},
		{"empty group", "", nil, false},
		{"size with a suffix", "  VHD-a 8388608B /dev/vg/VHD-a -wi-a-----\n", nil, true},
		{"too many fields", "  VHD-a 1 /dev/vg/VHD-a -wi-a----- x\n", nil, true},
		{"short attributes", "  VHD-a 1 /dev/vg/VHD-a -wi\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseLVS([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseLVS(%q) error = %v; want error %v", tt.out, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(volume{})); diff != "" {
				t.Errorf("parseLVS(%q) (-want +got):\n%s", tt.out, diff)
			}
		})
	}
}

// TestScanVolumes runs scan -l against a fake lvs and lvchange on PATH
// (this host has no device-mapper; tests/conformance runs real LVM in
// the test guest): the volumes are files here.
func TestScanVolumes(t *testing.T) {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	ok(t, "create", "-n", at("VHD-base"), "-s", "4")
	writeData(t, at("VHD-base"), []byte{1}, 0)
	ok(t, "snapshot", "-n", at("VHD-leaf"), "-p", at("VHD-base"))
	ok(t, "set", "-n", at("VHD-base"), "-f", "hidden", "-v", "1")
	ok(t, "create", "-n", at("MGT"), "-s", "4")
	size := func(n string) int64 {
		st, err := os.Stat(at(n))
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	lvs := fmt.Sprintf("  MGT %d %s -wi-a-----\n  VHD-base %d %s -wi-------\n  VHD-leaf %d %s -wi-a-----\n  pool 1073741824  twi-a-tz--\n",
		size("MGT"), at("MGT"), size("VHD-base"), at("VHD-base"), size("VHD-leaf"), at("VHD-leaf"))
	bin := t.TempDir()
	log := filepath.Join(bin, "log")
	fake := map[string]string{
		"lvs":      "echo \"lvs $*\" >>" + log + "\ncat <<'EOF'\n" + lvs + "EOF\n",
		"lvchange": "echo \"lvchange $*\" >>" + log + "\n",
	}
	for name, body := range fake {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	baseLine := fmt.Sprintf("vhd=VHD-base capacity=4194304 size=%d hidden=1 parent=none\n", size("VHD-base"))
	leafLine := fmt.Sprintf("vhd=VHD-leaf capacity=4194304 size=%d hidden=0 parent=VHD-base\n", size("VHD-leaf"))
	want := baseLine + leafLine
	lvmCalls := func(want string) {
		t.Helper()
		calls, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		want = "lvs --noheadings --units b --nosuffix -o lv_name,lv_size,lv_path,lv_attr vgt\n" + want
		if string(calls) != want {
			t.Errorf("LVM tools run:\n%s\nwant:\n%s", calls, want)
		}
		os.Remove(log)
	}
	wantOutput(t, want, "scan", "-f", "-l", "vgt", "-m", "VHD-*")
	lvmCalls("lvchange -ay vgt/VHD-base\nlvchange -an vgt/VHD-base\n")

	// -p: the tree by volume names.
	wantOutput(t, baseLine+"   "+leafLine, "scan", "-p", "-l", "vgt", "-m", "VHD-*")
	lvmCalls("lvchange -ay vgt/VHD-base\nlvchange -an vgt/VHD-base\n")
	// -a (SM's parentsOnly): the parent volume too, activated for the scan.
	wantOutput(t, leafLine+baseLine, "scan", "-f", "-a", "-l", "vgt", "-m", "VHD-l*")
	lvmCalls("lvchange -ay vgt/VHD-base\nlvchange -an vgt/VHD-base\n")
}

// TestScanVolumesLVMFails: lvs failing (no such group) fails the scan
// with its reason.
func TestScanVolumesLVMFails(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "lvs"), []byte("#!/bin/sh\necho '  Volume group \"nope\" not found' >&2\nexit 5\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, errs, code := vhdutil(t, "scan", "-f", "-l", "nope", "-m", "*")
	if code == 0 || out != "" || !strings.Contains(errs, `Volume group "nope" not found`) {
		t.Errorf("scan -l nope = exit %d, stdout %q, stderr %q; want a failure naming lvs's reason", code, out, errs)
	}
}
