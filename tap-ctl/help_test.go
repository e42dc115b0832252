package main

import (
	"context"
	"strings"
	"testing"
)

// TestHelp: each command's --help names every flag blktap's users need,
// so the tool can be used without the README.
func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{nil, []string{"list", "allocate", "free", "spawn", "attach", "detach", "open", "close", "pause", "unpause", "create", "destroy", "stats", "errno", "--run-dir"}},
		{[]string{"list"}, []string{"-p, --pid", "-m, --minor", "-t, --type", "-f, --file", "--json"}},
		{[]string{"allocate"}, []string{"-m, --minor", "lowest free"}},
		{[]string{"free"}, []string{"-m, --minor"}},
		{[]string{"spawn"}, []string{"--log-file", "pid"}},
		{[]string{"attach"}, []string{"-p, --pid", "-m, --minor"}},
		{[]string{"detach"}, []string{"-p, --pid", "-m, --minor"}},
		{[]string{"open"}, []string{"-a, --image=TYPE:PATH", "-R, --read-only", "-D, --no-direct", "-t, --timeout=SECS", "-2, --secondary", "-s, --standby", "refused", "NBD URI"}},
		{[]string{"close"}, []string{"-f, --force"}},
		{[]string{"pause"}, []string{"-m, --minor"}},
		{[]string{"unpause"}, []string{"-a, --image=TYPE:PATH"}},
		{[]string{"create"}, []string{"-a, --image=TYPE:PATH", "-R, --read-only", "-2, --secondary", "NBD URI"}},
		{[]string{"destroy"}, []string{"-p, --pid", "-m, --minor"}},
		{[]string{"stats"}, []string{"-f, --follow", "--interval", "JSON"}},
	}
	for _, tt := range tests {
		var out, errOut strings.Builder
		if code := run(context.Background(), append(tt.args, "--help"), &out, &errOut); code != 0 {
			t.Errorf("tap-ctl %v --help: exit %d, %s", tt.args, code, errOut.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("tap-ctl %v --help lacks %q:\n%s", tt.args, w, out.String())
			}
		}
	}
}
