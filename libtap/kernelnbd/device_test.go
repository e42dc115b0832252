package kernelnbd

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCheckRecoverable: only a device gotap attached, of the image's
// size, is handed new connections; the others are refused with why.
func TestCheckRecoverable(t *testing.T) {
	const size = 64 << 20
	for _, tc := range []struct {
		name    string
		files   map[string]string // in the device's /sys/block folder
		wantErr error
	}{
		{"ours", map[string]string{"backend": Backend + "\n", "size": "131072\n"}, nil},
		{"not attached", map[string]string{"size": "0\n"}, syscall.ENODEV},
		{"another server's", map[string]string{"backend": "qemu-nbd\n", "size": "131072\n"}, syscall.EINVAL},
		{"another size", map[string]string{"backend": Backend + "\n", "size": "2048\n"}, syscall.EMEDIUMTYPE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sys := t.TempDir()
			for name, data := range tc.files {
				if err := os.WriteFile(filepath.Join(sys, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err := checkRecoverable(sys, size)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("checkRecoverable = %v; want %v", err, tc.wantErr)
			}
		})
	}
}
