package clitest

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/rogpeppe/go-internal/diff"
)

// The test binary's -update flag: golden files are rewritten with what
// the tests got instead of being compared. tapmon's tests also link
// charmbracelet's golden package, which defines a flag of that name
// first (packages initialise in import-path order, github.com/… before
// gotap.dev/…): then that flag is the one read, so one -update rewrites
// both kinds of golden file.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files (testdata/**/*.golden) with the output got")
	}
}

// updating reports whether -update was given.
func updating() bool {
	return flag.Lookup("update").Value.(flag.Getter).Get() == true
}

// Golden compares got with the file at path, or with -update writes got
// there.
func Golden(t testing.TB, path, got string) {
	t.Helper()
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s does not exist: run the test with -update to write it, then read it", path)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, []byte(got)) {
		t.Errorf("output differs from %s (if the change is meant, rerun the test with -update and commit the file):\n%s",
			path, diff.Diff(path, want, "got", []byte(got)))
	}
}

// RunFunc is a command's run function: it takes the arguments after the
// command's name and returns the exit status.
type RunFunc func(args []string, stdout, stderr io.Writer) int

// Help compares the --help of the command name and of each of its
// subcommands with testdata/help/NAME.golden and
// testdata/help/NAME-SUB[-SUBSUB…].golden, one subtest each (-update
// rewrites them, and removes the file of a command that is gone).
// grammar is the command's kong grammar, which lists the subcommands.
// It returns each help text by subcommand path ("" for the command, then
// "create", "snapshot"…) for checks a golden file cannot make.
func Help(t *testing.T, name string, grammar any, run RunFunc) map[string]string {
	t.Helper()
	parser, err := kong.New(grammar, kong.Name(name))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "help")
	texts := make(map[string]string)
	var files []string
	var walk func(n *kong.Node, path []string)
	walk = func(n *kong.Node, path []string) {
		base := strings.Join(append([]string{name}, path...), "-")
		files = append(files, base+".golden")
		t.Run(base, func(t *testing.T) {
			var stdout, stderr strings.Builder
			args := append(slices.Clone(path), "--help")
			if code := run(args, &stdout, &stderr); code != 0 || stderr.Len() > 0 {
				t.Errorf("%s %s: exit %d, stderr %q; want 0 and nothing", name, strings.Join(args, " "), code, stderr.String())
			}
			Golden(t, filepath.Join(dir, base+".golden"), stdout.String())
			texts[strings.Join(path, " ")] = stdout.String()
		})
		for _, c := range n.Children {
			if c.Type == kong.CommandNode && !c.Hidden {
				walk(c, append(slices.Clone(path), c.Name))
			}
		}
	}
	walk(parser.Model.Node, nil)
	staleGoldens(t, dir, files)
	return texts
}

// staleGoldens reports the help files of dir no command has any more;
// with -update it removes them.
func staleGoldens(t testing.TB, dir string, files []string) {
	t.Helper()
	have, err := filepath.Glob(filepath.Join(dir, "*.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range have {
		if slices.Contains(files, filepath.Base(path)) {
			continue
		}
		if !updating() {
			t.Errorf("%s: no such command (any more): rerun with -update to remove the file", path)
		} else if err := os.Remove(path); err != nil {
			t.Error(err)
		}
	}
}
