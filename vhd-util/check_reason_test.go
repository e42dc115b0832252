package main

import (
	"testing"

	"gotap.dev/libvhd"
)

// The first problem check finds, in blktap's words.
func TestBlktapReason(t *testing.T) {
	tests := []struct {
		structure, msg, want string
	}{
		{"footer", "bad footer cookie (footer.cookie = garbagee) (the copy at offset 0 is good: vhd-util repair restores it)", "primary footer invalid: invalid cookie"},
		{"footer copy", "differs from the EOF footer", "primary and backup footers do not match"},
		{"header", "bad dynamic header cookie (header.cookie = cxsparsX)", "header is invalid: invalid cookie"},
		{"bat", "block 3 at 0x2000-0x202200 overlaps the BAT at 0x600-0x800", "block 3 (offset 0x10) clobbers headers"},
		{"bat", "block 1 at 0x2000-0x202200 overlaps block 0 at 0x1e00-0x202000", "block 1 (offset 0x10) clobbers block 0 (offset 0xf)"},
		{"bat", "block 2 at 0x2000-0x202200 runs past the EOF footer at 0x3000", "block 2 (offset 0x10) clobbers footer"},
		{"batmap", "block 7 is marked full but is not allocated", "batmap shows unallocated block 7 full"},
		{"bitmap", "sector 0x1 of block 0x0 has data where bitmap is clear", "sector 0x1 of block 0x0 has data where bitmap is clear"},
		{"locator[0]", "MacX names ./b.vhd: lstat b.vhd: no such file or directory", "parent locator 0 points to missing file ./b.vhd"},
		{"locator[2]", "data length 600 exceeds its space of 512 bytes", "invalid parent locator 2: invalid size"},
		{"locator[1]", "something new", "invalid parent locator 1: something new"},
		{"header", "something new", "header is invalid: something new"},
	}
	for _, tt := range tests {
		if got := blktapReason(libvhd.Problem{Structure: tt.structure, Msg: tt.msg}); got != tt.want {
			t.Errorf("blktapReason(%s: %s) = %q; want %q", tt.structure, tt.msg, got, tt.want)
		}
	}
}

// blktap checks the BAT before the parent locators; libvhd lists them the
// other way round.
func TestFirstProblem(t *testing.T) {
	problems := []libvhd.Problem{
		{Structure: "locator[0]", Msg: "data length 600 exceeds its space of 512 bytes"},
		{Structure: "bat", Msg: "block 3 at 0x2000-0x202200 overlaps the BAT at 0x600-0x800"},
		{Structure: "locator[1]", Msg: "parent locator W2ku on a dynamic disk"},
	}
	if got, want := firstProblem(problems), problems[2]; got != want {
		t.Errorf("firstProblem = %v; want %v", got, want)
	}
	if got, want := firstProblem(problems[:2]), problems[1]; got != want {
		t.Errorf("firstProblem = %v; want %v", got, want)
	}
}
