package delay

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/drivers/ram"
)

// TestDelays: each operation is held for at least its own delay, and an
// operation the trigger does not choose is not held (a delay of an hour
// would show).
func TestDelays(t *testing.T) {
	const d = 20 * time.Millisecond
	buf := make([]byte, 4096)
	tests := []struct {
		options string
		op      func(f *Filter) error
	}{
		{"read=20ms,write=1h,flush=1h,trim=1h,zero=1h", func(f *Filter) error { return f.ReadV([][]byte{buf}, 0) }},
		{"write=20ms,read=1h", func(f *Filter) error { return f.WriteV([][]byte{buf}, 0, true) }},
		{"flush=20ms", func(f *Filter) error { return f.Flush() }},
		{"trim=20ms", func(f *Filter) error { return f.Trim(0, 4096) }},
		{"zero=20ms", func(f *Filter) error { return f.WriteZeroes(0, 4096, false, false) }},
		{"read=1h,range=1M-2M", nil}, // a read outside the range
		{"read=1h,rate=0", nil},
	}
	for _, tt := range tests {
		cfg, err := Parse(tt.options)
		if err != nil {
			t.Fatalf("Parse(%q): %v", tt.options, err)
		}
		mem, err := ram.Open("4M", false)
		if err != nil {
			t.Fatal(err)
		}
		f := New(mem, cfg)
		op, want := tt.op, d
		if op == nil {
			op, want = func(f *Filter) error { return f.ReadV([][]byte{buf}, 0) }, 0
		}
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- op(f) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("delay:%s: %v", tt.options, err)
			}
			if took := time.Since(start); took < want {
				t.Errorf("delay:%s: took %v; want at least %v", tt.options, took, want)
			}
			f.Close()
		case <-time.After(10 * time.Second):
			t.Errorf("delay:%s: held for 10 s: the delay of another operation, or one not chosen", tt.options)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	for _, opts := range []string{"read=soon", "read=-1s", "sync=1s", "rate=x"} {
		if _, err := Parse(opts); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Parse(%q) = %v; want EINVAL", opts, err)
		}
	}
}
