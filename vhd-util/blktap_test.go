package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// The outputs blktap's scripts parse, byte for byte, against files in
// testdata/blktap written by hand from the formats of BLKTAP-OUTPUT.md
// (and blktap's printf formats) for the chain blktapChain makes: never
// recorded from this tool. UUIDs, timestamps, the checksums they enter
// and the test's folder are masked.
func TestBlktapOutputs(t *testing.T) {
	golden, err := filepath.Abs(filepath.Join("testdata", "blktap"))
	if err != nil {
		t.Fatal(err)
	}
	dir := blktapChain(t)
	t.Chdir(dir)
	tests := []struct {
		args   []string
		golden string
		code   syscall.Errno
		stderr bool // the golden is stderr's (read -j)
	}{
		{args: []string{"read", "-n", "base.vhd", "-p"}, golden: "read-p-base"},
		{args: []string{"read", "-n", "leaf.vhd", "-p", "-x"}, golden: "read-p-leaf-x"},
		{args: []string{"read", "-n", "base.vhd", "-b", "0", "-c", "5"}, golden: "read-b"},
		{args: []string{"read", "-n", "base.vhd", "-b", "0", "-c", "5", "-x"}, golden: "read-b-x"},
		{args: []string{"read", "--debug", "-B", "-n", "base.vhd"}, golden: "read-B"},
		{args: []string{"read", "-n", "base.vhd", "-i", "6", "-c", "4"}, golden: "read-i"},
		{args: []string{"read", "-n", "base.vhd", "-i", "12289", "-c", "3", "-x"}, golden: "read-i-x"},
		{args: []string{"read", "-n", "base.vhd", "-e", "0", "-c", "40960"}, golden: "read-e"},
		{args: []string{"read", "-n", "base.vhd", "-e", "0", "-c", "40960", "-x"}, golden: "read-e-x"},
		{args: []string{"read", "-n", "base.vhd", "-t", "12290", "-c", "2"}, golden: "read-t"},
		{args: []string{"read", "-n", "base.vhd", "-t", "4096"}, golden: "read-t-unallocated"},
		{args: []string{"read", "-n", "base.vhd", "-j", "3", "-c", "2"}, golden: "read-j", stderr: true},
		{args: []string{"scan", "-m", "*.vhd"}, golden: "scan"},
		{args: []string{"scan", "-p", "-M", "-m", "*.vhd"}, golden: "scan-p-M"},
		{args: []string{"scan", "-f", "-m", "[bl]*.vhd", "-c", "-v", "junk.img", "missing.vhd"}, golden: "scan-f-c-v"},
		{args: []string{"scan", "leaf.vhd", "junk.img", "base.vhd"}, golden: "scan-stop", code: syscall.EINVAL},
		{args: []string{"scan", "-p", "leaf.vhd"}, golden: "scan-p-orphan"},
		{args: []string{"scan", "-a", "-v", "leaf.vhd"}, golden: "scan-a-v"},
		{args: []string{"check", "-s", "-p", "-n", "leaf.vhd"}, golden: "check-s-p"},
		{args: []string{"check", "-s", "-n", "leaf.vhd"}, golden: "check-s"},
		{args: []string{"check", "-p", "-n", "leaf.vhd"}, golden: "check-p"},
		{args: []string{"check", "-n", "bad.img"}, golden: "check-invalid", code: syscall.EINVAL},
		{args: []string{"check", "-n", "junk.img"}, golden: "check-junk", code: syscall.EINVAL},
		{args: []string{"query", "--debug", "-vsafp", "-n", "leaf.vhd"}, golden: "query-sm"},
		{args: []string{"query", "-n", "base.vhd", "-S", "-a", "-d", "-m", "-f", "-p", "-s", "-v"}, golden: "query-all"},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			stdout, stderr, code := vhdutil(t, tt.args...)
			got := stdout
			if tt.stderr {
				got = stderr
			}
			want, err := os.ReadFile(filepath.Join(golden, tt.golden+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			if got := mask(got, dir); code != int(tt.code) || got != string(want) {
				t.Errorf("vhd-util %s = exit %d, stderr %q,\n%s\nwant exit %d,\n%s", strings.Join(tt.args, " "), code, stderr, got, tt.code, want)
			}
		})
	}
	// The stop-at-first-error rule's line, on stderr as blktap.
	if _, stderr, _ := vhdutil(t, "scan", "junk.img"); !strings.HasPrefix(stderr, "scan failed: -22. Check syslog for details\n") {
		t.Errorf("scan of junk: stderr %q; want blktap's line first", stderr)
	}
}

// blktapChain makes the images of the goldens, in a fresh folder:
//
//	base.vhd  20 MB; sectors 0-7 (block 0), 12290 (block 3) and block 4
//	          whole written, the blocks allocated in that order (each
//	          past the previous EOF footer, its data 4 KiB aligned: at
//	          3584, 2104832, 4206080; the file ends at 6304256)
//	leaf.vhd  child of base.vhd; sector 2048 written
//	hid.vhd   child of base.vhd, hidden, empty
//	solo.vhd  20 MB, hidden, empty
//	bad.img   base.vhd with BAT entry 1 at sector 3, over the header
//	junk.img  no VHD
func blktapChain(t *testing.T) string {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	ok(t, "create", "-n", at("base.vhd"), "-s", "20")
	writeData(t, at("base.vhd"), bytes.Repeat([]byte{1}, 8*512), 0)
	writeData(t, at("base.vhd"), []byte("hello"), 12290*512)
	writeData(t, at("base.vhd"), bytes.Repeat([]byte{2}, 2<<20), 4*(2<<20))
	ok(t, "snapshot", "-n", at("leaf.vhd"), "-p", at("base.vhd"))
	writeData(t, at("leaf.vhd"), bytes.Repeat([]byte{3}, 512), 2048*512)
	ok(t, "snapshot", "-n", at("hid.vhd"), "-p", at("base.vhd"))
	ok(t, "set", "-n", at("hid.vhd"), "-f", "hidden", "-v", "1")
	ok(t, "create", "-n", at("solo.vhd"), "-s", "20")
	ok(t, "set", "-n", at("solo.vhd"), "-f", "hidden", "-v", "1")
	img, err := os.ReadFile(at("base.vhd"))
	if err != nil {
		t.Fatal(err)
	}
	copy(img[1536+4:], []byte{0, 0, 0, 3}) // the BAT is at 1536
	for name, b := range map[string][]byte{"bad.img": img, "junk.img": []byte("not a VHD")} {
		if err := os.WriteFile(at(name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE = regexp.MustCompile(`[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}`)
	sumRE  = regexp.MustCompile(`^(Checksum {12}: )0x[0-9a-f]+\|0x[0-9a-f]+`)
)

// mask hides what differs between runs: UUIDs, timestamps, the footer's
// and header's checksums (which cover them; the batmap's does not), and
// the folder of the images.
func mask(out, dir string) string {
	lines := strings.SplitAfter(strings.ReplaceAll(out, dir, "$DIR"), "\n")
	section := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "VHD ") {
			section = l
		}
		l = uuidRE.ReplaceAllString(l, "<UUID>")
		l = timeRE.ReplaceAllString(l, "<TIME>")
		if strings.HasPrefix(section, "VHD Footer") || strings.HasPrefix(section, "VHD Header") {
			l = sumRE.ReplaceAllString(l, "${1}<CHECKSUM>")
		}
		lines[i] = l
	}
	return strings.Join(lines, "")
}
