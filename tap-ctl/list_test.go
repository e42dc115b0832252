package main

import (
	"strings"
	"testing"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

// listing: a live tapdisk with a VBD, a dead one that left a socket for
// minor 1, an idle one, and minors 0 to 3 allocated.
var listing = rows(
	[]tapscan.Tapdisk{
		{Pid: 42, VBDs: []wire.Info{{Minor: 0, Image: "vhd:/srv/a.vhd", State: 0}}},
		{Pid: 50, Dead: true, VBDs: []wire.Info{{Minor: 1, State: wire.Dead}}},
		{Pid: 60},
	},
	[]rundir.Minor{{N: 0, Held: true}, {N: 1}, {N: 2}, {N: 3}},
)

// withDevice: a disk with a kernel block device, one without.
var withDevice = rows([]tapscan.Tapdisk{{Pid: 42, VBDs: []wire.Info{
	{Minor: 0, Image: "vhd:/srv/a.vhd", Device: "/dev/nbd0"},
	{Minor: 1, Image: "aio:/srv/b.img"},
}}}, nil)

func TestListFormats(t *testing.T) {
	tests := []struct {
		name  string
		print func(*strings.Builder) error
		want  string
	}{
		{"lines", func(b *strings.Builder) error { return printLines(b, listing) },
			"pid=42 minor=0 state=0 args=vhd:/srv/a.vhd\npid=50 minor=1 state=0x1\npid=60\nminor=2\nminor=3\n"},
		{"table", func(b *strings.Builder) error { return printTable(b, listing) }, "" +
			"     pid minor state       type file\n" +
			"      42    0    0        vhd /srv/a.vhd\n" +
			"      50    1  0x1          - -\n" +
			"      60    -    -          - -\n" +
			"       -    2    -          - -\n" +
			"       -    3    -          - -\n"},
		{"lines with a device", func(b *strings.Builder) error { return printLines(b, withDevice) },
			"pid=42 minor=0 state=0 args=vhd:/srv/a.vhd device=/dev/nbd0\npid=42 minor=1 state=0 args=aio:/srv/b.img\n"},
		{"table with a device", func(b *strings.Builder) error { return printTable(b, withDevice) }, "" +
			"     pid minor state       type device       file\n" +
			"      42    0    0        vhd /dev/nbd0    /srv/a.vhd\n" +
			"      42    1    0        aio -            /srv/b.img\n"},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := tt.print(&b); err != nil || b.String() != tt.want {
			t.Errorf("%s = %v\n%s; want\n%s", tt.name, err, b.String(), tt.want)
		}
	}
}

func TestListFilter(t *testing.T) {
	pid, minor := 42, 2
	tests := []struct {
		l    listCmd
		want int
	}{
		{listCmd{}, 5},
		{listCmd{Pid: &pid}, 1},
		{listCmd{Minor: &minor}, 1},
		{listCmd{Type: "vhd"}, 1},
		{listCmd{File: "/srv/a.vhd"}, 1},
		{listCmd{Type: "aio"}, 0},
	}
	for _, tt := range tests {
		if got := tt.l.filter(listing); len(got) != tt.want {
			t.Errorf("filter(%+v) kept %d rows; want %d", tt.l, len(got), tt.want)
		}
	}
}
