package imagefile

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every kind of file that cannot hold a disk is refused at once, for
// reading and for writing; a FIFO without a writer never blocks.
func TestOpenRefusesWhatIsNoDisk(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, tt := range []struct{ path, kind string }{
		{fifo, "FIFO"},
		{sock, "socket"},
		{"/dev/null", "character device"},
		{dir, "directory"},
	} {
		for _, flag := range []int{os.O_RDONLY, os.O_RDWR} {
			start := time.Now()
			f, err := Open(tt.path, flag, 0)
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, ErrType) || !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), tt.kind) {
				t.Errorf("Open(%s, %#x) = %v; want ErrType naming a %s", tt.path, flag, err, tt.kind)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Open(%s) took %v", tt.path, d)
			}
		}
	}
}

func TestOpenRegularFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	f, err := Open(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(make([]byte, 4096), 0); err != nil {
		t.Fatal(err)
	}
	if n, err := Size(f); n != 4096 || err != nil {
		t.Errorf("Size = %d, %v; want 4096", n, err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v; want 0600", st.Mode().Perm())
	}
}
