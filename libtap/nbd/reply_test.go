package nbd_test

import (
	"bytes"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/nbd/wire"
)

// TestReplyToSlowReader sends reads one at a time to a client that reads
// nothing meanwhile, so that each reply is sent at once by the goroutine
// that completed it (the connection's last request in flight), until the
// socket is full and one is written only in part: its rest must still
// reach the client, alone (the writer flushes it) or with later replies
// queued behind it, and every reply arrive whole, in order, with its data.
func TestReplyToSlowReader(t *testing.T) {
	const size = 60 << 10
	data := make([]byte, 64*size) // more than a Unix socket buffers
	rand.New(rand.NewSource(1)).Read(data)
	p := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		structured bool
		after      int // reads sent after the one written in part
	}{
		{"simple", false, 0},
		{"structured", true, 0},
		{"simple, then more", false, 3},
		{"structured, then more", true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serveOpened(t, "aio:"+p, true)
			c := dialRaw(t, s.sock, tc.structured)
			n := 0
			for queued := 0; ; n++ {
				if n == 64 {
					t.Fatal("the socket never filled")
				}
				c.send(wire.CmdRead, 0, uint64(n), uint64(n*size), size, nil)
				time.Sleep(5 * time.Millisecond) // completed and sent before the next
				q := inQueue(t, c.nc)
				if q-queued < size {
					break // written in part
				}
				queued = q
			}
			for range tc.after {
				n++
				c.send(wire.CmdRead, 0, uint64(n), uint64(n*size), size, nil)
			}
			c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i := range n + 1 {
				cookie, errno, got, err := c.reply(size)
				if err != nil || errno != 0 || cookie != uint64(i) {
					t.Fatalf("reply %d: cookie %d errno %d err %v", i, cookie, errno, err)
				}
				if !bytes.Equal(got, data[i*size:(i+1)*size]) {
					t.Fatalf("read %d: wrong data", i)
				}
			}
		})
	}
}

// inQueue is how many bytes the socket has received and not yet read.
func inQueue(t *testing.T, nc net.Conn) int {
	t.Helper()
	rc, err := nc.(*net.UnixConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Fatal(ierr)
	}
	return n
}
