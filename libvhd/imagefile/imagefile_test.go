package imagefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libvhd/vhdtest"
)

// Every kind of file that cannot hold a disk is refused at once, for
// reading and for writing; a FIFO without a writer never blocks.
func TestOpenRefusesWhatIsNoDisk(t *testing.T) {
	for _, sf := range vhdtest.SpecialFiles(t, t.TempDir()) {
		for _, flag := range []int{os.O_RDONLY, os.O_RDWR} {
			start := time.Now()
			f, err := Open(sf.Path, flag, 0)
			if err == nil {
				f.Close()
			}
			if !errors.Is(err, ErrType) || !errors.Is(err, syscall.EINVAL) || !strings.Contains(err.Error(), sf.Kind) {
				t.Errorf("Open(%s, %#x) = %v; want ErrType naming a %s", sf.Path, flag, err, sf.Kind)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Open(%s) took %v", sf.Path, d)
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
