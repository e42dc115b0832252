package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd"
)

// vhdutil runs the command in-process.
func vhdutil(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

// ok runs the command and fails the test unless it exits 0.
func ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := vhdutil(t, args...)
	if code != 0 {
		t.Fatalf("vhd-util %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// fails runs the command and checks its exit code and that stderr says
// what went wrong.
func fails(t *testing.T, wantCode syscall.Errno, wantErr string, args ...string) {
	t.Helper()
	out, errs, code := vhdutil(t, args...)
	if code != int(wantCode) || !strings.Contains(errs, wantErr) {
		t.Errorf("vhd-util %s = exit %d, stderr %q (stdout %q); want exit %d, stderr containing %q", strings.Join(args, " "), code, errs, out, wantCode, wantErr)
	}
}

// validLines is check -p's output for a valid chain: the image as named,
// then each parent (canonical paths).
func validLines(image string, parents ...string) string {
	s := image + " is valid\n"
	for _, p := range parents {
		s += p + " is valid\n"
	}
	return s
}

func wantOutput(t *testing.T, want string, args ...string) {
	t.Helper()
	if got := ok(t, args...); got != want {
		t.Errorf("vhd-util %s = %q; want %q", strings.Join(args, " "), got, want)
	}
}

// writeData writes b at off into the image through libvhd.
func writeData(t *testing.T, path string, b []byte, off int64) {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCreateAndQuery(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.vhd")
	wantOutput(t, "", "create", "-n", a, "-s", "20")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-v", "-s", "-p", "-f", "-m", "-d", "-a", "-S"}, "20\n3584\n" + a + " has no parent\nhidden: 0\nmarker: 0\nchain depth: 1\n0\n20\n"},
		// blktap's order whatever the flags' (SM's -vsafp reads lines by position).
		{[]string{"-S", "-a", "-d", "-m", "-f", "-p", "-s", "-v"}, "20\n3584\n" + a + " has no parent\nhidden: 0\nmarker: 0\nchain depth: 1\n0\n20\n"},
		{[]string{"-d", "-v"}, "20\nchain depth: 1\n"},
		{[]string{"-dv"}, "20\nchain depth: 1\n"},
		{[]string{"--depth", "--virtual"}, "20\nchain depth: 1\n"},
	}
	for _, tt := range tests {
		wantOutput(t, tt.want, append([]string{"query", "-n", a}, tt.args...)...)
	}

	var doc map[string]any
	if err := json.Unmarshal([]byte(ok(t, "query", "-n", a, "-v", "-f", "--json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["virtual_size_mb"] != 20.0 || doc["hidden"] != 0.0 || len(doc) != 2 {
		t.Errorf("query --json = %v; want virtual_size_mb 20 and hidden 0", doc)
	}
}

func TestCreateSizes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		size string
		args []string
		want int64
	}{
		{"512M", nil, 512 << 20},
		{"1073742336B", nil, 1<<30 + 512},
		{"4096K", []string{"-r"}, 4 << 20},
		{"1g", []string{"-S", "10G"}, 1 << 30},
	}
	for i, tt := range tests {
		path := filepath.Join(dir, "d"+string(rune('0'+i))+".vhd")
		ok(t, append([]string{"create", "-n", path, "-s", tt.size}, tt.args...)...)
		im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if im.Size() != tt.want {
			t.Errorf("create -s %s: size %d; want %d", tt.size, im.Size(), tt.want)
		}
		im.Close()
	}
	wantOutput(t, "10240\n", "query", "-n", filepath.Join(dir, "d3.vhd"), "-S")
	fails(t, syscall.EINVAL, "size \"12Q\"", "create", "-n", filepath.Join(dir, "q.vhd"), "-s", "12Q")
	fails(t, syscall.EINVAL, "over the VHD limit of 2040 GiB", "create", "-n", filepath.Join(dir, "big.vhd"), "-s", "2041G")
	fails(t, syscall.EEXIST, filepath.Join(dir, "d0.vhd"), "create", "-n", filepath.Join(dir, "d0.vhd"), "-s", "1")
}

func TestSnapshotChain(t *testing.T) {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	ok(t, "create", "-n", at("base.vhd"), "-s", "20")
	writeData(t, at("base.vhd"), bytes.Repeat([]byte{1}, 4096), 0)
	ok(t, "snapshot", "-n", at("empty.vhd"), "-p", at("base.vhd"))
	ok(t, "snapshot", "-n", at("skip.vhd"), "-p", at("empty.vhd"))
	ok(t, "snapshot", "-n", at("keep.vhd"), "-p", at("empty.vhd"), "-e")

	wantOutput(t, at("base.vhd")+"\nchain depth: 2\n", "query", "-n", at("skip.vhd"), "-p", "-d")
	wantOutput(t, at("empty.vhd")+"\nchain depth: 3\n", "query", "-n", at("keep.vhd"), "-p", "-d")
	wantOutput(t, "./empty.vhd\n", "query", "-n", at("keep.vhd"), "-p", "-u")
	wantOutput(t, validLines(at("keep.vhd"), at("empty.vhd"), at("base.vhd")), "check", "-n", at("keep.vhd"), "-p", "-b")
	fails(t, syscall.ENOSPC, "chain too deep", "snapshot", "-n", at("deep.vhd"), "-p", at("keep.vhd"), "-e", "-l", "3")
	fails(t, syscall.ENOENT, at("nothere.vhd"), "snapshot", "-n", at("x.vhd"), "-p", at("nothere.vhd"))
}

func TestSnapshotRaw(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(raw, bytes.Repeat([]byte("raw!"), 1<<18), 0o644); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "child.vhd")
	ok(t, "snapshot", "-n", child, "-p", raw, "-m")
	wantOutput(t, "1\n"+raw+"\nchain depth: 2\n", "query", "-n", child, "-p", "-d", "-v")
	wantOutput(t, child+" is valid\n", "check", "-n", child, "-p")
	wantOutput(t, "raw!raw!", "read", "-n", child, "-R", "4096", "-c", "8")
}

func TestSet(t *testing.T) {
	dir := t.TempDir()
	a, fixed := filepath.Join(dir, "a.vhd"), filepath.Join(dir, "f.vhd")
	ok(t, "create", "-n", a, "-s", "4")
	ok(t, "create", "-n", fixed, "-s", "4", "-r")
	ok(t, "set", "-n", a, "-f", "hidden", "-v", "1")
	ok(t, "set", "-n", a, "-f", "marker", "-v", "5")
	ok(t, "set", "-n", fixed, "-f", "hidden", "-v", "1")
	wantOutput(t, "hidden: 1\nmarker: 5\n", "query", "-n", a, "-f", "-m")
	wantOutput(t, "hidden: 1\n", "query", "-n", fixed, "-f")
	wantOutput(t, a+" is valid\n", "check", "-n", a)
	fails(t, syscall.EINVAL, "want 0 or 1", "set", "-n", a, "-f", "hidden", "-v", "2")
	fails(t, syscall.ENOSYS, "no batmap", "set", "-n", fixed, "-f", "marker", "-v", "1")
	fails(t, syscall.EINVAL, "--field", "set", "-n", a, "-f", "colour", "-v", "1")
}

func TestRepair(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a.vhd")
	ok(t, "create", "-n", a, "-s", "4")
	wantOutput(t, "", "repair", "-n", a)
	f, err := os.OpenFile(a, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	f.WriteAt([]byte("garbage!"), st.Size()-512)
	f.Close()
	out, errs, code := vhdutil(t, "check", "-n", a)
	if code != int(syscall.EINVAL) || !strings.HasPrefix(out, "primary footer invalid: invalid cookie\n"+a+" appears invalid; dumping metadata\n") || !strings.Contains(errs, "bad footer cookie") {
		t.Errorf("check of a damaged footer = %d, %q, %q; want exit 22, blktap's report and gotap's reason", code, out, errs)
	}
	wantOutput(t, a+" is valid\n", "check", "-n", a, "-i")
	wantOutput(t, "{\n  \"name\": \""+a+"\",\n  \"repaired\": true,\n  \"uuid_given\": false\n}\n", "repair", "-n", a, "--json")
	wantOutput(t, a+" is valid\n", "check", "-n", a)
	wantOutput(t, "", "repair", "-n", a, "-b")
}

// repair gives an image with a null unique id a new one, in both footers.
func TestRepairNullUUID(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a.vhd")
	ok(t, "create", "-n", a, "-s", "4")
	img, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{0, len(img) - 512} { // the copy, the EOF footer
		footer := img[off : off+512]
		clear(footer[0x44:0x54])
		binary.BigEndian.PutUint32(footer[0x40:], 0)
		var sum uint32
		for _, b := range footer {
			sum += uint32(b)
		}
		binary.BigEndian.PutUint32(footer[0x40:], ^sum)
	}
	if err := os.WriteFile(a, img, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code := vhdutil(t, "check", "-n", a); code != int(syscall.EINVAL) || !strings.HasPrefix(out, "primary footer invalid: invalid (NULL) uuid\n") {
		t.Errorf("check of a null UUID = exit %d, %q; want blktap's reason", code, out)
	}
	wantOutput(t, "", "repair", "-n", a)
	wantOutput(t, a+" is valid\n", "check", "-n", a)
	if img, _ = os.ReadFile(a); bytes.Equal(img[0x44:0x54], make([]byte, 16)) || !bytes.Equal(img[:512], img[len(img)-512:]) {
		t.Error("the footers do not carry the same new UUID")
	}
}

func TestModify(t *testing.T) {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	ok(t, "create", "-n", at("a.vhd"), "-s", "20")
	ok(t, "create", "-n", at("b.vhd"), "-s", "20")
	writeData(t, at("a.vhd"), bytes.Repeat([]byte{7}, 3<<20), 0)
	ok(t, "snapshot", "-n", at("c.vhd"), "-p", at("a.vhd"))
	wantOutput(t, "2\n", "query", "-n", at("a.vhd"), "-a")

	ok(t, "modify", "-n", at("a.vhd"), "-z")
	wantOutput(t, "3584\n0\n", "query", "-n", at("a.vhd"), "-a", "-s")
	ok(t, "modify", "-n", at("a.vhd"), "-s", "1M")
	if st, err := os.Stat(at("a.vhd")); err != nil || st.Size() != 1<<20 {
		t.Errorf("modify -s 1M: %v, %v; want a file of 1 MiB", st, err)
	}
	// query -s is where the data ends, plus the footer: not the file's size.
	wantOutput(t, "3584\n", "query", "-n", at("a.vhd"), "-s")
	fails(t, syscall.EINVAL, "cut into data", "modify", "-n", at("a.vhd"), "-s", "1024")

	ok(t, "modify", "-n", at("c.vhd"), "-p", at("b.vhd"))
	wantOutput(t, at("b.vhd")+"\n", "query", "-n", at("c.vhd"), "-p")
	wantOutput(t, validLines(at("c.vhd"), at("b.vhd")), "check", "-n", at("c.vhd"), "-p")
	fails(t, syscall.EINVAL, "not a differencing image", "modify", "-n", at("a.vhd"), "-p", at("b.vhd"))
	fails(t, syscall.EINVAL, "nothing to do", "modify", "-n", at("a.vhd"))
}

func TestScan(t *testing.T) {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	ok(t, "create", "-n", at("base.vhd"), "-s", "4")
	writeData(t, at("base.vhd"), []byte{1}, 0)
	ok(t, "snapshot", "-n", at("leaf.vhd"), "-p", at("base.vhd"))
	ok(t, "snapshot", "-n", at("hidden.vhd"), "-p", at("base.vhd"))
	ok(t, "set", "-n", at("hidden.vhd"), "-f", "hidden", "-v", "1")
	if err := os.WriteFile(at("junk.vhd"), []byte("not a vhd"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, "vhd=leaf.vhd capacity=4194304 size=5120 hidden=0 parent=base.vhd\n", "scan", at("leaf.vhd"))
	wantOutput(t, "vhd=base.vhd capacity=4194304 size=2101760 hidden=0 parent=none\n"+
		"   vhd=leaf.vhd capacity=4194304 size=5120 hidden=0 parent=base.vhd\n"+
		"   vhd=hidden.vhd capacity=4194304 size=5120 hidden=1 parent=base.vhd\n",
		"scan", "-p", "-m", at("[bhl]*.vhd"))
	wantOutput(t, "vhd=leaf.vhd capacity=4194304 size=5120 hidden=0 parent=base.vhd (not found in scan)\n", "scan", "-p", "-f", at("leaf.vhd"))
	wantOutput(t, "vhd="+at("leaf.vhd")+" capacity=4194304 size=5120 hidden=0 parent="+at("base.vhd")+"\nvhd="+at("base.vhd")+" capacity=4194304 size=2101760 hidden=0 parent=none\n", "scan", "-a", "-v", at("leaf.vhd"))

	out, errs, code := vhdutil(t, "scan", at("junk.vhd"))
	if code != int(syscall.EINVAL) || !strings.HasPrefix(out, "vhd="+at("junk.vhd")+" scan-error=-22 error-message='") || !strings.Contains(errs, "junk.vhd") {
		t.Errorf("scan junk = exit %d, %q, %q; want exit 2 and a scan-error line", code, out, errs)
	}
}

func TestCheckReportsProblems(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.vhd")
	ok(t, "create", "-n", a, "-s", "20")
	f, err := os.OpenFile(a, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("cxsparsX"), 512)
	f.Close()
	out, errs, code := vhdutil(t, "check", "-n", a)
	// blktap's report on stdout, gotap's on stderr; the image does not
	// open: read's failure
	// then the footer and header as found, as blktap's read.
	want := "header is invalid: invalid cookie\n" + a + " appears invalid; dumping metadata\nFailed to open " + a + ": -22\n\n" + a + " appears invalid; dumping headers\n\nVHD Footer Summary:\n"
	if code != int(syscall.EINVAL) || !strings.HasPrefix(out, want) || !strings.Contains(out, "\nCookie              : cxsparsX\n") ||
		!strings.Contains(errs, a+": header at 0x200: bad dynamic header cookie") || !strings.Contains(errs, a+": 1 problem(s) found") {
		t.Errorf("check of a bad header = exit %d, %q, %q; want exit 22, %q… and the problem", code, out, errs, want)
	}
	var doc struct {
		Valid    bool
		Problems []libvhd.Problem
	}
	out, _, _ = vhdutil(t, "check", "-n", a, "--json")
	if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.Valid || len(doc.Problems) != 1 || doc.Problems[0].Offset != 0x200 {
		t.Errorf("check --json = %s (%v); want one problem at 0x200", out, err)
	}
	fails(t, syscall.ENOENT, filepath.Join(dir, "missing.vhd")+": no such file", "check", "-n", filepath.Join(dir, "missing.vhd"))
	fails(t, syscall.EINVAL, "bad dynamic header cookie", "query", "-n", a, "-v")
}

func TestUsageErrors(t *testing.T) {
	fails(t, syscall.EINVAL, "unexpected argument", "frobnicate")
	fails(t, syscall.EINVAL, "missing flags: --name", "query", "-v")
	fails(t, syscall.EINVAL, "nothing to query", "query", "-n", "x.vhd")
}
