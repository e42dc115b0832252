package clitest

import (
	"slices"
	"testing"
)

// A made-up workspace: cmd reaches the drivers through vbd, which the
// control client imports, and through a direct import.
var graph = map[string][]string{
	"gotap.dev/cmd":                {"fmt", "gotap.dev/libtap/control", "gotap.dev/libtap/drivers/nbd"},
	"gotap.dev/libtap/control":     {"gotap.dev/libtap/vbd", "gotap.dev/libtap/ringbuf"},
	"gotap.dev/libtap/vbd":         {"gotap.dev/libtap/drivers", "gotap.dev/libtap/ring"},
	"gotap.dev/libtap/drivers":     {"gotap.dev/libtap/drivers/nbd"},
	"gotap.dev/libtap/drivers/nbd": {"gotap.dev/libtap/nbd/wire"},
	"gotap.dev/libtap/ringbuf":     nil,
	"gotap.dev/libtap/nbd/wire":    nil,
	"gotap.dev/tap-ctl":            {"gotap.dev/libtap/control", "gotap.dev/libtap/vbd"},
	"gotap.dev/vhd-util":           {"gotap.dev/libvhd"},
	"gotap.dev/libvhd":             {"gotap.dev/libvhd/imagefile"},
	"gotap.dev/libvhd/imagefile":   nil,
	"gotap.dev/libtap/livesnap":    {"gotap.dev/libtap/vbd", "gotap.dev/libvhd"},
	"gotap.dev/xmsnap":             {"gotap.dev/libtap/livesnap"},
}

func TestEntries(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
		want      []string
	}{
		{"gotap.dev/cmd", []string{"gotap.dev/libtap/drivers"},
			[]string{"gotap.dev/cmd → gotap.dev/libtap/drivers/nbd", "gotap.dev/libtap/vbd → gotap.dev/libtap/drivers"}},
		{"gotap.dev/cmd", []string{"gotap.dev/libtap/vbd", "gotap.dev/libtap/ring"},
			[]string{"gotap.dev/libtap/control → gotap.dev/libtap/vbd"}},
		{"gotap.dev/cmd", []string{"gotap.dev/libtap/ring"}, // not ringbuf
			[]string{"gotap.dev/libtap/vbd → gotap.dev/libtap/ring"}},
		{"gotap.dev/tap-ctl", []string{"gotap.dev/libtap/vbd", "gotap.dev/libvhd"},
			[]string{"gotap.dev/tap-ctl → gotap.dev/libtap/vbd", "gotap.dev/libtap/control → gotap.dev/libtap/vbd"}},
		{"gotap.dev/vhd-util", []string{"gotap.dev/libvhd"}, []string{"gotap.dev/vhd-util → gotap.dev/libvhd"}},
		{"gotap.dev/vhd-util", []string{"gotap.dev/libtap"}, nil}, // nothing forbidden reached
		{"gotap.dev/xmsnap", []string{"gotap.dev/libtap/vbd"}, []string{"gotap.dev/libtap/livesnap → gotap.dev/libtap/vbd"}},
		{"gotap.dev/xmsnap", []string{"gotap.dev/libtap/vbd", "gotap.dev/libvhd"},
			[]string{"gotap.dev/libtap/livesnap → gotap.dev/libtap/vbd", "gotap.dev/libtap/livesnap → gotap.dev/libvhd"}},
	} {
		got := entries(graph, tc.pkg, tc.forbidden)
		if !slices.Equal(got, tc.want) {
			t.Errorf("entries(%s, %v) = %q; want %q", tc.pkg, tc.forbidden, got, tc.want)
		}
	}
}
