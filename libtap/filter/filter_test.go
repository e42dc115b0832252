package filter

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestOptions(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // "" : parses, and every key is taken
	}{
		{in: ""},
		{in: "size=20M,count=3,d=10ms,p=0.5,s=x"},
		{in: "size=20M,size=1M", wantErr: "given twice"},
		{in: "size", wantErr: "want KEY=VALUE"},
		{in: "=1", wantErr: "want KEY=VALUE"},
		{in: "size=lots", wantErr: "size=lots"},
		{in: "count=-1", wantErr: "negative"},
		{in: "d=-1s", wantErr: "negative"},
		{in: "p=1.5", wantErr: "want 0 to 1"},
		{in: "p=NaN", wantErr: "want 0 to 1"},
		{in: "size=1M,colour=red,shape=round", wantErr: "unknown option colour, shape"},
	}
	for _, tt := range tests {
		o, err := ParseOptions("test", tt.in)
		if err == nil {
			o.Size("size", 0)
			o.Count("count", 0)
			o.Duration("d", 0)
			o.Probability("p", 0)
			o.String("s", "")
			err = o.Err()
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("options %q: %v", tt.in, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("options %q: error %v; want one with %q", tt.in, err, tt.wantErr)
		case err != nil && !errors.Is(err, syscall.EINVAL):
			t.Errorf("options %q: error %v is not EINVAL", tt.in, err)
		}
	}
}

func TestOptionValues(t *testing.T) {
	o, err := ParseOptions("test", "size=20M,count=3,d=10ms,p=0.25,s=x")
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Size("size", 0); got != 20<<20 {
		t.Errorf("Size = %d; want %d", got, 20<<20)
	}
	if got := o.Count("count", 0); got != 3 {
		t.Errorf("Count = %d; want 3", got)
	}
	if got := o.Duration("d", 0); got != 10*time.Millisecond {
		t.Errorf("Duration = %v; want 10ms", got)
	}
	if got := o.Probability("p", 0); got != 0.25 {
		t.Errorf("Probability = %v; want 0.25", got)
	}
	if got := o.String("s", ""); got != "x" {
		t.Errorf("String = %q; want x", got)
	}
	if got := o.Size("absent", 7); got != 7 {
		t.Errorf("Size(absent) = %d; want the default 7", got)
	}
}

func trigger(t *testing.T, opts string) Trigger {
	t.Helper()
	o, err := ParseOptions("test", opts)
	if err != nil {
		t.Fatal(err)
	}
	tr := ParseTrigger(o)
	if err := o.Err(); err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestTriggerRange(t *testing.T) {
	tr := trigger(t, "range=1M-2M")
	tests := []struct {
		off, n int64
		want   bool
	}{
		{0, 4096, false},
		{1<<20 - 4096, 4096, false}, // ends where the range starts
		{1<<20 - 4096, 8192, true},  // overlaps its start
		{1 << 20, 4096, true},
		{2<<20 - 1, 1, true},
		{2 << 20, 4096, false},
		{0, 0, false}, // a flush: no offset
	}
	for _, tt := range tests {
		if got := tr.Fires(tt.off, tt.n); got != tt.want {
			t.Errorf("range 1M-2M: Fires(%d, %d) = %v; want %v", tt.off, tt.n, got, tt.want)
		}
	}
	for _, bad := range []string{"range=2M-1M", "range=1M", "range=x-1M", "range=1M-y"} {
		o, _ := ParseOptions("test", bad)
		ParseTrigger(o)
		if err := o.Err(); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestTriggerRateAndFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "trigger")
	always, never, file1 := trigger(t, ""), trigger(t, "rate=0"), trigger(t, "file="+file)
	half := trigger(t, "rate=0.5")
	fired := 0
	for range 10000 {
		if !always.Fires(0, 512) || never.Fires(0, 512) || file1.Fires(0, 512) {
			t.Fatal("rate 1 did not fire, rate 0 did, or a file trigger fired without its file")
		}
		if half.Fires(0, 512) {
			fired++
		}
	}
	// Binomial(10000, 0.5): 4700 to 5300 is ±6 standard deviations.
	if fired < 4700 || fired > 5300 {
		t.Errorf("rate=0.5 fired %d times in 10000", fired)
	}
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if !file1.Fires(0, 512) {
		t.Error("the file exists but the trigger did not fire")
	}
	os.Remove(file)
	if file1.Fires(0, 512) {
		t.Error("the file is gone but the trigger fired")
	}
}

func TestTriggerAllocatesNothing(t *testing.T) {
	tr := trigger(t, "rate=0.5,range=0-1M,file="+t.TempDir())
	if a := testing.AllocsPerRun(1000, func() { tr.Fires(0, 4096) }); a != 0 {
		t.Errorf("Fires: %v allocs; want 0", a)
	}
}
