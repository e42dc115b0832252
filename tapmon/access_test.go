package main

import (
	"testing"

	"gotap.dev/libtap/control/wire"
)

// TestAccess: the detail pane's access line names the disk's kernel
// block device, if it has one.
func TestAccess(t *testing.T) {
	for _, tc := range []struct {
		info wire.Info
		want string
	}{
		{wire.Info{}, "read-write"},
		{wire.Info{ReadOnly: true, Direct: true}, "read-only, O_DIRECT"},
		{wire.Info{Device: "/dev/nbd0"}, "read-write, on /dev/nbd0"},
	} {
		if got := access(tc.info); got != tc.want {
			t.Errorf("access(%+v) = %q; want %q", tc.info, got, tc.want)
		}
	}
}
