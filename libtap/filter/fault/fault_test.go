package fault

import (
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/filter/filtertest"
)

// each calls every operation an error filter may fail on d, each on
// [4096, 8192), with its name.
func each(d disk.Driver) map[string]error {
	buf := make([]byte, 4096)
	return map[string]error{
		"read":  d.ReadV([][]byte{buf}, 4096),
		"write": d.WriteV([][]byte{buf}, 4096, false),
		"flush": d.Flush(),
		"trim":  d.Trim(4096, 4096),
		"zero":  d.WriteZeroes(4096, 4096, false, false),
	}
}

// TestFails: the operations chosen fail with the errno and never reach
// the driver below; the others pass through untouched.
func TestFails(t *testing.T) {
	tests := []struct {
		options string
		errno   syscall.Errno
		failing []string
	}{
		{"", syscall.EIO, []string{"flush", "read", "trim", "write", "zero"}},
		{"errno=EAGAIN,ops=read+trim", syscall.EAGAIN, []string{"read", "trim"}},
		{"ops=write,range=8K-16K", syscall.EIO, nil}, // outside the range
		{"ops=write,range=4K-5K", syscall.EIO, []string{"write"}},
		{"rate=0", syscall.EIO, nil},
	}
	for _, tt := range tests {
		cfg, err := Parse(tt.options)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.options, err)
		}
		mem, err := ram.Open("1M", false)
		if err != nil {
			t.Fatal(err)
		}
		var log filtertest.Log
		f := New(&filtertest.Probe{Next: mem, Name: "below", Log: &log}, cfg)
		for op, err := range each(f) {
			want := slices.Contains(tt.failing, op)
			if got := err != nil; got != want || want && !errors.Is(err, tt.errno) {
				t.Errorf("error:%s: %s = %v; want failing %v with %v", tt.options, op, err, want, tt.errno)
			}
		}
		var reached, passed []string
		for _, c := range log.Take() {
			reached = append(reached, strings.Fields(c)[1])
		}
		for _, op := range []string{"flush", "read", "trim", "write", "zero"} {
			if !slices.Contains(tt.failing, op) {
				passed = append(passed, op)
			}
		}
		if slices.Sort(reached); !slices.Equal(reached, passed) {
			t.Errorf("error:%s: reached the driver below: %q; want %q", tt.options, reached, passed)
		}
		f.Close()
	}
}

func TestParseRefuses(t *testing.T) {
	for _, opts := range []string{"errno=EWHAT", "ops=read+sync", "rate=2", "colour=red"} {
		if _, err := Parse(opts); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Parse(%q) = %v; want EINVAL", opts, err)
		}
	}
}

func TestFailingAllocatesNothing(t *testing.T) {
	cfg, _ := Parse("ops=read")
	mem, err := ram.Open("1M", false)
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	f := New(mem, cfg)
	bufs := [][]byte{make([]byte, 4096)}
	if a := testing.AllocsPerRun(1000, func() { f.ReadV(bufs, 0) }); a != 0 {
		t.Errorf("failed read: %v allocs; want 0", a)
	}
}
