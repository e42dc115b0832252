package clitest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libtap/cli"
)

// toy is a grammar with a command, a subcommand and a hidden one.
type toy struct {
	Verbose bool `short:"v" help:"Say more."`
	Make    struct {
		Name  string   `short:"n" required:"" help:"What to make."`
		Twice struct{} `cmd:"" help:"Make it twice."`
	} `cmd:"" help:"Make a thing."`
	Secret struct{} `cmd:"" hidden:"" help:"Not shown."`
}

func runToy(args []string, stdout, stderr io.Writer) int {
	if _, err := cli.Parse("toy", "Makes things.", &toy{}, args, stdout, stderr); !errors.Is(err, cli.ErrHelp) {
		return 1
	}
	return 0
}

// TestHelp: a golden file per visible command, nested ones included.
func TestHelp(t *testing.T) {
	texts := Help(t, "toy", &toy{}, runToy)
	var paths []string
	for p := range texts {
		paths = append(paths, fmt.Sprintf("%q", p))
	}
	if len(texts) != 3 || texts[""] == "" || !strings.Contains(texts["make twice"], "Make it twice.") {
		t.Errorf("Help texts for %v; want \"\", \"make\" and \"make twice\"", paths)
	}
}

// recorder is a testing.TB that keeps the errors reported.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestGoldenDiffers: a change is reported as a diff naming the file; a
// missing file says how to write it.
func TestGoldenDiffers(t *testing.T) {
	if updating() {
		t.Skip("compares on purpose")
	}
	file := filepath.Join("testdata", "help", "toy-make.golden")
	tests := []struct {
		path, got string
		want      []string
	}{
		{file, "Usage: toy make --name=STRING\n", []string{file, "-Usage: toy make --name=STRING <command>", "+Usage: toy make --name=STRING\n", "-update"}},
		{"testdata/help/none.golden", "x", []string{"does not exist", "-update"}},
	}
	for _, tt := range tests {
		r := &recorder{TB: t}
		Golden(r, tt.path, tt.got)
		if len(r.errs) != 1 {
			t.Fatalf("Golden(%s) reported %q; want one error", tt.path, r.errs)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.errs[0], w) {
				t.Errorf("Golden(%s) = %q; want it to contain %q", tt.path, r.errs[0], w)
			}
		}
	}
}

// TestStaleGoldens: the file of a command that is gone is reported.
func TestStaleGoldens(t *testing.T) {
	if updating() {
		t.Skip("would remove the file")
	}
	dir := t.TempDir()
	for _, f := range []string{"toy.golden", "toy-gone.golden"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := &recorder{TB: t}
	staleGoldens(r, dir, []string{"toy.golden"})
	if len(r.errs) != 1 || !strings.Contains(r.errs[0], "toy-gone.golden") {
		t.Errorf("staleGoldens reported %q; want toy-gone.golden alone", r.errs)
	}
}
