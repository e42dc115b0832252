// Package vhdcreate is vhdtest.Creator made with libvhd, for the tests of
// the commands (vhdtest itself cannot import libvhd: libvhd's own tests
// import vhdtest).
package vhdcreate

import (
	"testing"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// Create makes a dynamic VHD of size bytes, or a differencing child of
// parent (raw: a raw file); a vhdtest.Creator.
func Create(t testing.TB, path string, size int64, parent string, raw bool) {
	t.Helper()
	im, err := libvhd.Create(path, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: size, Parent: parent, ParentRaw: raw})
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}

var _ vhdtest.Creator = Create
