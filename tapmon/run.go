package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gotap.dev/libtap/cli"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"gotap.dev/libtap/rundir"
)

// run is tapmon with its command line and streams; it returns the exit
// status: 0, 1 when watching failed, 2 for a bad command line.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f, err := parse(args, stdout, stderr)
	if errors.Is(err, cli.ErrHelp) {
		return 0
	}
	if err == nil {
		err = watch(f, stdin, stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "tapmon:", err)
		if errors.Is(err, cli.ErrUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// watch prints once or runs the full-screen monitor.
func watch(f flags, stdin io.Reader, stdout io.Writer) error {
	dir, err := rundir.Resolve(f.RunDir)
	if err != nil {
		return cli.Usagef("%w", err)
	}
	src := runDir{dir}
	if f.Once {
		return once(context.Background(), src, f.Interval, f.JSON, stdout)
	}
	// The renderer looks at stdout for its colour profile; it honours
	// NO_COLOR and gives plain text when stdout is not a terminal.
	st := newStyles(lipgloss.NewRenderer(stdout))
	m := newModel(src, src, string(dir), f.Interval, st)
	p := tea.NewProgram(m, tea.WithAltScreen(), tea.WithInput(stdin), tea.WithOutput(stdout))
	_, err = p.Run()
	return err
}
