package wire_test

import (
	"syscall"
	"testing"

	"gotap.dev/libtap/nbd/wire"
)

// TestErrors: a server's errno crosses the wire as the protocol's code
// and comes back as the errno a client reports.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		sent syscall.Errno // by the server's driver
		code uint32        // on the wire
		seen syscall.Errno // by the client
	}{
		{0, 0, 0}, // success: no error to map back
		{syscall.EPERM, wire.EPERM, syscall.EPERM},
		{syscall.EROFS, wire.EPERM, syscall.EPERM},
		{syscall.EACCES, wire.EPERM, syscall.EPERM},
		{syscall.EIO, wire.EIO, syscall.EIO},
		{syscall.ENOENT, wire.EIO, syscall.EIO}, // no NBD value
		{syscall.ENOMEM, wire.ENOMEM, syscall.ENOMEM},
		{syscall.EINVAL, wire.EINVAL, syscall.EINVAL},
		{syscall.ENOSPC, wire.ENOSPC, syscall.ENOSPC},
		{syscall.EDQUOT, wire.ENOSPC, syscall.ENOSPC},
		{syscall.EFBIG, wire.ENOSPC, syscall.ENOSPC},
		{syscall.EOVERFLOW, wire.EOVERFLOW, syscall.EOVERFLOW},
		{syscall.EOPNOTSUPP, wire.ENOTSUP, syscall.EOPNOTSUPP},
		{syscall.ESHUTDOWN, wire.ESHUTDOWN, syscall.ESHUTDOWN},
	} {
		if code := wire.ErrorCode(tc.sent); code != tc.code {
			t.Errorf("ErrorCode(%v) = %d; want %d", tc.sent, code, tc.code)
		}
		if tc.code == 0 {
			continue
		}
		if seen := wire.Errno(tc.code); seen != tc.seen {
			t.Errorf("Errno(%d) = %v; want %v", tc.code, seen, tc.seen)
		}
	}
	// A code the protocol does not define reads as EINVAL, as it asks.
	if seen := wire.Errno(42); seen != syscall.EINVAL {
		t.Errorf("Errno(42) = %v; want EINVAL", seen)
	}
}
