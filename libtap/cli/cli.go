// Package cli is what every gotap command does with its command line:
// kong parses it into the command's grammar, --help prints and returns
// (so that a command's run function returns rather than exits, and tests
// call it), and a refused command line comes back as one usage error.
package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kong"
)

var (
	// ErrHelp reports that help was asked for and printed: exit 0.
	ErrHelp = errors.New("help printed")
	// ErrUsage marks a command line refused before anything ran.
	ErrUsage = errors.New("usage")
)

// usageError reads as the problem alone and is ErrUsage to errors.Is.
type usageError struct{ err error }

func (e usageError) Error() string   { return e.err.Error() }
func (e usageError) Unwrap() []error { return []error{ErrUsage, e.err} }

// Usagef makes a usage error, for checks kong cannot express.
func Usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// helpPrinted carries kong's exit after --help out of the parser.
type helpPrinted struct{}

// Parse reads args into grammar, a kong struct, for the command name.
func Parse(name, description string, grammar any, args []string, stdout, stderr io.Writer, opts ...kong.Option) (kctx *kong.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(helpPrinted); !ok {
				panic(r)
			}
			kctx, err = nil, ErrHelp
		}
	}()
	opts = append([]kong.Option{
		kong.Name(name),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		kong.Exit(func(int) { panic(helpPrinted{}) }),
	}, opts...)
	parser, err := kong.New(grammar, opts...)
	if err != nil {
		panic(err) // the grammar itself is wrong: a programmer error
	}
	if kctx, err = parser.Parse(args); err != nil {
		return nil, usageError{err}
	}
	return kctx, nil
}

// PrintUsage reports a refused command line the way every gotap command
// does: "NAME: problem (see NAME --help)".
func PrintUsage(stderr io.Writer, name string, err error) {
	fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", name, err, name)
}
