package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A parent remade under the same name has another UUID: check refuses
// the chain, -I checks it anyway.
func TestCheckIgnoreParentUUID(t *testing.T) {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	ok(t, "create", "-n", at("base.vhd"), "-s", "20")
	ok(t, "snapshot", "-n", at("leaf.vhd"), "-p", at("base.vhd"))
	if err := os.Remove(at("base.vhd")); err != nil {
		t.Fatal(err)
	}
	ok(t, "create", "-n", at("base.vhd"), "-s", "20")
	out, errs, code := vhdutil(t, "check", "-p", "-n", at("leaf.vhd"))
	if want := "invalid parent " + at("base.vhd") + ": invalid parent uuid\n" + at("leaf.vhd") + " appears invalid; dumping metadata\n"; code != int(syscall.EINVAL) || !strings.HasPrefix(out, want) || !strings.Contains(errs, "parent UUID mismatch") {
		t.Errorf("check -p of a parent of another UUID = exit %d, %q, %q; want exit 22 and %q…", code, out, errs, want)
	}
	wantOutput(t, validLines(at("leaf.vhd"), at("base.vhd")), "check", "-p", "-I", "-n", at("leaf.vhd"))
}
