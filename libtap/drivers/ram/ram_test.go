package ram

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	seed := bytes.Repeat([]byte("seed!!!\n"), 8192) // 64 KiB
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file, odd, empty := write("seed.img", seed), write("odd.img", make([]byte, 1000)), write("empty.img", nil)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		arg  string
		size int64
		want error // errno, nil for success
	}{
		{"4M", 4 << 20, nil},
		{"2", 2 << 20, nil},
		{"1048576B", 1 << 20, nil},
		{file, int64(len(seed)), nil},
		{"0", 0, syscall.EINVAL},
		{"1000B", 0, syscall.EINVAL},
		{"100T", 0, syscall.ENOMEM}, // more than this machine has
		{"64Q", 0, syscall.ENOENT},  // neither a size nor a file
		{odd, 0, syscall.EINVAL},
		{empty, 0, syscall.EINVAL},
		{dir, 0, syscall.EINVAL},
		{fifo, 0, syscall.EINVAL}, // refused, not waited on
		{"/dev/null", 0, syscall.EINVAL},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.arg), func(t *testing.T) {
			start := time.Now()
			d, err := Open(tt.arg, false)
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Open(%q) took %v", tt.arg, took)
			}
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Errorf("Open(%q) = %v; want %v", tt.arg, err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Size() != tt.size {
				t.Errorf("Size() = %d; want %d", d.Size(), tt.size)
			}
		})
	}
}

// TestFileIsCopiedNeverWritten: ram:FILE starts with the file's bytes;
// writes stay in memory.
func TestFileIsCopiedNeverWritten(t *testing.T) {
	p := filepath.Join(t.TempDir(), "seed.img")
	seed := bytes.Repeat([]byte{0x5a}, 6<<20) // more than one load chunk
	seed[5<<20] = 0xa5
	if err := os.WriteFile(p, seed, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Open(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got := make([]byte, len(seed))
	if err := d.ReadV([][]byte{got[:1<<20], got[1<<20:]}, 0); err != nil || !bytes.Equal(got, seed) {
		t.Fatalf("ReadV = %v; the disk does not hold the file's bytes", err)
	}
	if err := d.WriteV([][]byte{make([]byte, 4096)}, 5<<20, true); err != nil {
		t.Fatal(err)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, seed) {
		t.Error("a write to the RAM disk reached its file")
	}
}

func TestClosedDiskRefusesIO(t *testing.T) {
	d, err := Open("1M", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	buf := [][]byte{make([]byte, 512)}
	for name, err := range map[string]error{
		"read":   d.ReadV(buf, 0),
		"write":  d.WriteV(buf, 0, false),
		"zeroes": d.WriteZeroes(0, 512, false, false),
		"close":  d.Close(),
	} {
		want := syscall.ENXIO
		if name == "close" {
			want = 0
		}
		if (want == 0) != (err == nil) || want != 0 && !errors.Is(err, want) {
			t.Errorf("%s after Close = %v; want %v", name, err, want)
		}
	}
	if d.Size() != 1<<20 {
		t.Errorf("Size() after Close = %d; want 1 MiB still", d.Size())
	}
}

func TestReadOnly(t *testing.T) {
	d, err := Open("1M", true)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.Caps().ReadOnly { // the VBD refuses writes on it
		t.Error("a read-only RAM disk: Caps().ReadOnly false")
	}
}
