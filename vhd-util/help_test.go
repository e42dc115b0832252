package main

import (
	"strings"
	"testing"
)

func TestRootHelp(t *testing.T) {
	out := ok(t, "--help")
	for _, want := range []string{"Usage: vhd-util <command>", "MB unless suffixed", "Exit status", "create", "snapshot", "query", "read", "set", "repair", "modify", "scan", "check", "GOTAP_PARENT_DIRS"} {
		if !strings.Contains(out, want) {
			t.Errorf("vhd-util --help lacks %q:\n%s", want, out)
		}
	}
}

// Every command's help explains each flag and shows an example.
func TestCommandHelp(t *testing.T) {
	tests := []struct {
		cmd   string
		flags []string
	}{
		{"create", []string{"-n, --name=NAME", "-s, --size=SIZE", "-r, --fixed", "-S, --max-size=MAXSIZE", "--json"}},
		{"snapshot", []string{"--parent-dir=DIR", "-n, --name=CHILD", "-p, --parent=PARENT", "-m, --raw", "-l, --limit=DEPTH", "-e, --keep-empty", "-S, --max-size=MAXSIZE"}},
		{"query", []string{"--parent-dir=DIR", "-v, --virtual", "-s, --physical", "-p, --parent", "-f, --fields", "-m, --marker", "-d, --depth", "-a, --allocated", "-S, --max-size", "-u, --unresolved"}},
		{"read", []string{"--parent-dir=DIR", "-p, --headers", "-b, --entry=BLK", "-B, --bat", "-m, --bitmap=BLK", "-i, --info=SEC", "-a, --batmap", "-j, --batmap-bit=BLK", "-t, --translate=SEC", "-d, --data=BLK", "-r, --sectors=SEC", "-R, --bytes=BYTE", "-c, --count=N", "-x, --hex"}},
		{"set", []string{"-f, --field=FIELD", "-v, --value=N", "hidden", "marker"}},
		{"repair", []string{"-b, --backup"}},
		{"modify", []string{"--parent-dir=DIR", "-p, --parent=PARENT", "-m, --raw", "-s, --physical-size=BYTES", "-z, --zero"}},
		{"scan", []string{"-f, --fast", "-m, --match=GLOB", "-p, --pretty", "-a, --parents", "-v, --verbose", "[<FILES> ...]"}},
		{"check", []string{"--parent-dir=DIR", "-p, --parents", "-b, --bitmaps", "-t, --ignore-timestamps", "-i, --ignore-missing-footer", "-B, --no-overlap"}},
	}
	for _, tt := range tests {
		t.Run(tt.cmd, func(t *testing.T) {
			out := ok(t, tt.cmd, "--help")
			for _, want := range append(tt.flags, "Example:", "vhd-util "+tt.cmd) {
				if !strings.Contains(out, want) {
					t.Errorf("vhd-util %s --help lacks %q:\n%s", tt.cmd, want, out)
				}
			}
		})
	}
}
