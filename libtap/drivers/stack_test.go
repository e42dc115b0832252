package drivers

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/filter/filtertest"
	"gotap.dev/libtap/filter/valve"
)

// stack is delay over error over valve over a RAM disk, with a probe
// above each layer, so that the log shows every call as it travels
// down, and where it stopped. The delay holds reads 5 ms; the error
// filter fails writes to [1M, 2M) with ENOSPC; the valve lets 50 reads
// a second through (a burst of one).
const stack = "delay:read=5ms:error:errno=ENOSPC,ops=write,range=1M-2M:valve:riops=50,burst=20ms:ram:4M"

func openProbed(t *testing.T, budget *valve.Budget) (disk.Driver, *filtertest.Log) {
	t.Helper()
	c, err := disk.ParseChain(stack)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Valve: budget}
	var log filtertest.Log
	drv, err := openImage(c.Image, opts)
	if err != nil {
		t.Fatal(err)
	}
	drv = &filtertest.Probe{Next: drv, Name: "ram", Log: &log}
	for i := len(c.Layers) - 1; i >= 0; i-- {
		wrap, err := Layer(c.Layers[i], opts)
		if err != nil {
			t.Fatal(err)
		}
		drv = &filtertest.Probe{Next: wrap(drv), Name: c.Layers[i].Filter, Log: &log}
	}
	return drv, &log
}

// TestStack: calls travel down the layers in order, each filter acts on
// the operations it changes and passes every other call on unchanged
// (same range, same result), and the stack opened from its spec behaves
// as the one built by hand.
func TestStack(t *testing.T) {
	budget := valve.NewBudget()
	d, log := openProbed(t, budget)
	data := bytes.Repeat([]byte("stack"), 820)[:4096]
	got, other := make([]byte, 4096), make([]byte, 1024)
	all := func(op string, off, n int64) []string {
		var want []string
		for _, layer := range []string{"delay", "error", "valve", "ram"} {
			want = append(want, fmt.Sprintf("%s %s %d+%d", layer, op, off, n))
		}
		return want
	}
	steps := []struct {
		name    string
		do      func() error
		want    []string // the log
		wantErr error
		atLeast time.Duration
	}{
		{"write outside the error's range", func() error { return d.WriteV([][]byte{data}, 0, false) }, all("write", 0, 4096), nil, 0},
		{"read it back, delayed", func() error { return d.ReadV([][]byte{got}, 0) }, all("read", 0, 4096), nil, 5 * time.Millisecond},
		{"a write in the range fails in the error filter", func() error { return d.WriteV([][]byte{data}, 1<<20, false) },
			[]string{"delay write 1048576+4096", "error write 1048576+4096"}, syscall.ENOSPC, 0},
		{"a read in the range is not a write", func() error { return d.ReadV([][]byte{other[:512], other[512:]}, 1<<20) }, all("read", 1<<20, 1024), nil, 5 * time.Millisecond},
		{"flush passes", d.Flush, []string{"delay flush", "error flush", "valve flush", "ram flush"}, nil, 0},
		{"trim passes", func() error { return d.Trim(1<<20, 4096) }, all("trim", 1<<20, 4096), nil, 0},
		{"zero passes", func() error { return d.WriteZeroes(1<<20, 4096, false, false) }, all("zero", 1<<20, 4096), nil, 0},
		{"extents pass", func() error { _, err := d.Extents(nil, 0, 4<<20); return err }, all("extents", 0, 4<<20), nil, 0},
	}
	for _, s := range steps {
		start := time.Now()
		err := s.do()
		took := time.Since(start)
		if !errors.Is(err, s.wantErr) || s.wantErr == nil && err != nil {
			t.Errorf("%s: %v; want %v", s.name, err, s.wantErr)
		}
		if calls := log.Take(); !slices.Equal(calls, s.want) {
			t.Errorf("%s: calls\n%q\nwant\n%q", s.name, calls, s.want)
		}
		if took < s.atLeast {
			t.Errorf("%s: took %v; want the delay of %v", s.name, took, s.atLeast)
		}
	}
	if !bytes.Equal(got, data) {
		t.Error("read back other data than written through the stack")
	}
	if d.Size() != 4<<20 || !d.Caps().InMemory {
		t.Errorf("Size, Caps = %d, %+v; want the RAM disk's", d.Size(), d.Caps())
	}
	// Two reads went through a valve of 50 a second with a burst of one:
	// the second waited; no write did.
	if info := budget.Info(); info.ReadWaits == 0 || info.WriteWaits != 0 {
		t.Errorf("valve: %+v; want the second read to have waited, and no write", info)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if calls := log.Take(); !slices.Equal(calls, []string{"delay close", "error close", "valve close", "ram close"}) {
		t.Errorf("close: %q; want it passed down every layer", calls)
	}
}

// TestOpenStack: Open builds the same stack from the spec, and checks
// every layer's options before opening the image.
func TestOpenStack(t *testing.T) {
	d, err := Open(stack, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	buf := make([]byte, 4096)
	if err := d.WriteV([][]byte{buf}, 1<<20, false); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("write in the error filter's range = %v; want ENOSPC", err)
	}
	if err := d.WriteV([][]byte{buf}, 0, false); err != nil {
		t.Errorf("write outside it: %v", err)
	}
	for _, bad := range []string{
		"valve:rbps=fast:ram:4M",
		"error:errno=EWHAT:ram:4M",
		"delay:read=1h,write=soon:ram:4M",
		"valve::valve::ram:4M",
		"valve:rbps=1M:ram:/no/such/file", // the image fails: reported as such
	} {
		if _, err := Open(bad, Options{}); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		} else if !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			t.Errorf("Open(%q) = %v; want EINVAL (ENOENT for the missing file)", bad, err)
		}
	}
}

// BenchmarkStack measures a 4 KiB read from the RAM disk, bare and under
// the filter stack with nothing to do: the difference is what the layers
// cost each request, to compare with a whole request's time
// (BenchmarkRequestPath in vbd, BenchmarkRequests in nbd).
func BenchmarkStack(b *testing.B) {
	for _, bc := range []struct{ name, spec string }{
		{"bare", "ram:64M"},
		{"filtered", "valve::error:rate=0:delay::ram:64M"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d, err := Open(bc.spec, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			bufs := [][]byte{make([]byte, 4096)}
			b.ReportAllocs()
			for b.Loop() {
				if err := d.ReadV(bufs, 4096); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
