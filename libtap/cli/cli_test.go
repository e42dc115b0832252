package cli

import (
	"errors"
	"strings"
	"testing"
)

type grammar struct {
	Size  int    `short:"s" required:"" help:"A size."`
	Image string `arg:"" help:"An image."`
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr error
		stdout  string
	}{
		{"valid", []string{"-s", "3", "a.vhd"}, nil, ""},
		{"help", []string{"--help"}, ErrHelp, "Usage: tool"},
		{"missing flag", []string{"a.vhd"}, ErrUsage, ""},
		{"unknown flag", []string{"-s", "1", "-q", "a.vhd"}, ErrUsage, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g grammar
			var stdout, stderr strings.Builder
			_, err := Parse("tool", "Does things.", &g, tc.args, &stdout, &stderr)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Fatalf("Parse(%q) err = %v; want %v", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout = %q; want it to contain %q", stdout.String(), tc.stdout)
			}
			if err != nil && strings.HasPrefix(err.Error(), "usage") {
				t.Errorf("error %q repeats the word usage", err)
			}
		})
	}
}
