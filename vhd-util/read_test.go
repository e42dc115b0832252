package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// TestRead checks every read option against blktap's formats
// (BLKTAP-OUTPUT.md), with the offsets read from the file's raw bytes,
// not from libvhd.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.vhd")
	ok(t, "create", "-n", a, "-s", "20")
	writeData(t, a, bytes.Repeat([]byte("ab"), 1<<20), 0) // block 0, full
	writeData(t, a, []byte("hello"), 3*(2<<20)+1024)      // block 3, sector 2 (virtual 12290)
	l := vhdtest.ReadLayout(t, a)
	entry := func(blk int) int64 {
		return int64(binary.BigEndian.Uint32(l.File[l.TableOff+4*int64(blk):])) * 512
	}
	b0, b3 := entry(0), entry(3)
	data3 := b3 + l.BitmapLen + 2*512 // sector 2 of block 3, in bytes

	headers := ok(t, "read", "-n", a, "-p")
	for _, want := range []string{"VHD Footer Summary:\n-------------------\nCookie              : conectix\n", "Disk type           : Dynamic hard disk\n", "Max BAT size        : 10\n", "VHD Batmap Summary:", "(Good!)"} {
		if !strings.Contains(headers, want) {
			t.Errorf("read -p lacks %q:\n%s", want, headers)
		}
	}
	bitmap3 := make([]byte, l.BitmapLen)
	bitmap3[0] = 0x20
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-b", "0"}, fmt.Sprintf("block: 0: offset: %d\n", b0)},
		{[]string{"-b", "0", "-c", "2", "-x"}, fmt.Sprintf("block: 0: offset: %#x\nblock: 0x1: offset: not allocated\n", b0)},
		{[]string{"-B"}, "\x90\x00"},
		{[]string{"-m", "3"}, string(bitmap3)},
		{[]string{"-m", "1"}, "block 1 not allocated\n"},
		{[]string{"-m", "1", "-c", "3"}, "block 1 not allocated\nblock 2 not allocated\n" + string(bitmap3)},
		{[]string{"-d", "1", "-c", "2", "-x"}, "block 0x1 not allocated\nblock 0x2 not allocated\n"},
		{[]string{"-i", "12290", "-c", "2"}, "block 3: sec: 2: 1\nblock 3: sec: 3: 0\n"},
		{[]string{"-i", "4095", "-c", "2", "-x"}, "block 0: sec: 0xfff: 1\nblock 0x1: sec: 0: 0\n"},
		{[]string{"-e", "0", "-c", "12300"}, "0 4096\n12290 1\n"},
		{[]string{"-t", "12290"}, fmt.Sprintf("logical sector 12290: block number: 3, sector offset: 2, file offset: %d\n", data3)},
		{[]string{"-t", "4096"}, "logical sector 4096: block number: 1, sector offset: 0, file offset: not allocated\n"},
		{[]string{"-d", "1"}, "block 1 not allocated\n"},
		{[]string{"-R", "6292480", "-c", "5"}, "hello"},
		{[]string{"-r", "12290", "-c", "1"}, "hello" + string(make([]byte, 507))},
	}
	for _, tt := range tests {
		if got := ok(t, append([]string{"read", "-n", a}, tt.args...)...); got != tt.want {
			t.Errorf("read %v = %.120q; want %.120q", tt.args, got, tt.want)
		}
	}
	if got := ok(t, "read", "-n", a, "-a"); len(got) < 512 || got[0] != 0x80 || strings.Trim(got[1:], "\x00") != "" {
		t.Errorf("read -a = %.40q (%d bytes); want the raw batmap, block 0 full", got, len(got))
	}
	if got := ok(t, "read", "-n", a, "-d", "0"); got != strings.Repeat("ab", 1<<20) {
		t.Errorf("read -d 0 returned %d bytes; want the block's 2 MiB", len(got))
	}
	out, errs, code := vhdutil(t, "read", "-n", a, "-j", "0", "-c", "2")
	if code != 0 || out != "" || errs != "batmap for block 0: 1\nbatmap for block 1: 0\n" {
		t.Errorf("read -j 0 -c 2 = exit %d, stdout %q, stderr %q; want the bits on stderr", code, out, errs)
	}
	fails(t, syscall.ERANGE, "BAT has 10 entries", "read", "-n", a, "-b", "10")
	fails(t, syscall.ERANGE, "BAT has 10 entries", "read", "-n", a, "-b", "9", "-c", "2")
	fails(t, syscall.EINVAL, "nothing to read", "read", "-n", a)
}

// TestReadBATOfHugeImage: -B is one bit per block of the largest disk,
// computed in one pass (it was quadratic).
func TestReadBATOfHugeImage(t *testing.T) {
	a := filepath.Join(t.TempDir(), "huge.vhd")
	ok(t, "create", "-n", a, "-s", "2040G")
	writeData(t, a, []byte("x"), 2040<<30-512)
	got := ok(t, "read", "-n", a, "-B")
	want := make([]byte, 2040<<30/(2<<20)/8)
	want[len(want)-1] = 0x01
	if got != string(want) {
		t.Errorf("read -B of a 2040 GiB image: %d bytes, last %#x; want %d bytes, last 0x01", len(got), got[len(got)-1], len(want))
	}
}

// BenchmarkReadBAT is `read -B` of the largest disk (blktap's users run it
// on multi-TB images in their garbage collector).
func BenchmarkReadBAT(b *testing.B) {
	a := filepath.Join(b.TempDir(), "huge.vhd")
	var out, errb bytes.Buffer
	if run(b.Context(), []string{"create", "-n", a, "-s", "2040G"}, &out, &errb) != 0 {
		b.Fatal(errb.String())
	}
	for b.Loop() {
		out.Reset()
		if run(b.Context(), []string{"read", "-n", a, "-B"}, &out, &errb) != 0 {
			b.Fatal(errb.String())
		}
	}
}

// read -B has one bit per block of the disk, not per BAT entry: an image
// made with room to grow (-S) prints as many bytes as one made without.
func TestReadBATBitsPerBlock(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"-s", "20"}, {"-s", "20", "-S", "40"}, {"-s", "19", "-S", "40"}} {
		a := filepath.Join(dir, strings.Join(args, "")+".vhd")
		ok(t, append([]string{"create", "-n", a}, args...)...)
		writeData(t, a, []byte{1}, 0)
		writeData(t, a, []byte{1}, 9<<20) // block 4
		wantOutput(t, "\x88\x00", "read", "-n", a, "-B")
	}
}
