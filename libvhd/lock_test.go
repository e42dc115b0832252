package libvhd

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"

	"gotap.dev/libvhd/imagelock"
)

// Every writer of an image holds it exclusively and every reader of a
// chain shares its parents: what each kind of open allows beside a leaf
// being written and beside a chain being read.
func TestOpenLocks(t *testing.T) {
	dir := t.TempDir()
	base, leaf := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "leaf.vhd")
	newTestImage(t, base, "")
	im, err := Create(leaf, CreateOptions{Parent: base})
	if err != nil {
		t.Fatal(err)
	}
	im.Close()

	served, err := Open(leaf, OpenOptions{}) // as tapdisk: leaf written, base read
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	refused := []struct {
		name string
		op   func() error
	}{
		{"second writer of the leaf", func() error { return openClose(leaf, OpenOptions{}) }},
		{"reader of the leaf", func() error { return openClose(leaf, OpenOptions{ReadOnly: true}) }},
		{"writer of the parent", func() error { return openClose(base, OpenOptions{NoParent: true}) }},
		{"set hidden on the leaf", func() error { return SetHidden(leaf, 1, nil) }},
		{"set hidden on the parent", func() error { return SetHidden(base, 1, nil) }},
		{"snapshot of the leaf", func() error {
			im, err := Snapshot(filepath.Join(dir, "snap.vhd"), leaf, SnapshotOptions{})
			if err == nil {
				im.Close()
			}
			return err
		}},
	}
	for _, tt := range refused {
		err := tt.op()
		if !errors.Is(err, imagelock.ErrLocked) || !errors.Is(err, syscall.EBUSY) {
			t.Errorf("%s beside a served leaf: %v, want ErrLocked (EBUSY)", tt.name, err)
		}
	}
	allowed := []struct {
		name string
		op   func() error
	}{
		{"inspection of the leaf", func() error { return openClose(leaf, OpenOptions{ReadOnly: true, NoLock: true}) }},
		{"check of the leaf", func() error { _, err := Check(leaf, CheckOptions{Parents: true}); return err }},
		{"reader of the parent", func() error { return openClose(base, OpenOptions{ReadOnly: true}) }},
		{"another child of the parent", func() error {
			im, err := Snapshot(filepath.Join(dir, "sibling.vhd"), base, SnapshotOptions{})
			if err == nil {
				err = im.Close()
			}
			return err
		}},
	}
	for _, tt := range allowed {
		if err := tt.op(); err != nil {
			t.Errorf("%s beside a served leaf: %v", tt.name, err)
		}
	}
	// Closing the chain releases it: blktap's pause, vhd-util, unpause.
	served.Close()
	if err := SetHidden(leaf, 1, nil); err != nil {
		t.Errorf("set hidden after close: %v", err)
	}
}

func openClose(path string, opts OpenOptions) error {
	im, err := Open(path, opts)
	if err != nil {
		return err
	}
	return im.Close()
}
