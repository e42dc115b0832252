package main

import (
	"context"
	"io"
	"regexp"
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestHelp compares every command's --help with testdata/help (-update
// rewrites it), and checks that each command's help ends in an example
// of its use.
func TestHelp(t *testing.T) {
	texts := clitest.Help(t, "vhd-util", &cli{}, func(args []string, stdout, stderr io.Writer) int {
		return run(context.Background(), args, stdout, stderr)
	})
	for cmd, text := range texts {
		example := regexp.MustCompile(`(?m)^Example:\n\n +(\$ )?vhd-util ` + cmd + ` `)
		if cmd != "" && !example.MatchString(text) {
			t.Errorf("vhd-util %s --help has no example of vhd-util %s:\n%s", cmd, cmd, text)
		}
	}
}
