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

// TestReplyToSlowReader sends reads to a client that reads nothing
// meanwhile, a batch at a time in one write, so that the replies of each
// are sent at once, without the writer: by the goroutine that completed
// the connection's last request in flight, or by the reader that
// collected what its submission completed (the page cache's reads
// complete inside it). This goes on until the socket is full and a
// batch's replies are written only in part: the rest must still reach
// the client, alone (the writer flushes it) or with later replies queued
// behind it, and every reply arrive whole, in order, with its data.
func TestReplyToSlowReader(t *testing.T) {
	const room = 64 * 60 << 10
	data := make([]byte, room) // more than a Unix socket buffers
	rand.New(rand.NewSource(1)).Read(data)
	p := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		structured bool
		size       int // of each read
		batch      int // reads sent together
		after      int // reads sent after the batch written in part
	}{
		{"simple", false, 60 << 10, 1, 0},
		{"structured", true, 60 << 10, 1, 0},
		{"simple, then more", false, 60 << 10, 1, 3},
		{"structured, then more", true, 60 << 10, 1, 3},
		{"simple batches", false, 4 << 10, 8, 0},
		{"structured batches, then more", true, 4 << 10, 8, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serveOpened(t, "aio:"+p, true)
			c := dialRaw(t, s.sock, tc.structured)
			var reqs []byte
			send := func(n int) {
				reqs = wire.Request{Type: wire.CmdRead, Cookie: uint64(n), Offset: uint64(n * tc.size), Length: uint32(tc.size)}.Append(reqs)
			}
			n := 0
			for queued := 0; ; {
				if (n+tc.batch)*tc.size > room {
					t.Fatal("the socket never filled")
				}
				for range tc.batch {
					send(n)
					n++
				}
				c.write(reqs)
				reqs = reqs[:0]
				time.Sleep(5 * time.Millisecond) // completed and sent before the next
				q := inQueue(t, c.nc)
				if q-queued < tc.batch*tc.size {
					break // written in part
				}
				queued = q
			}
			for range tc.after {
				send(n)
				n++
			}
			c.write(reqs)
			c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			for i := range n {
				cookie, errno, got, err := c.reply(tc.size)
				if err != nil || errno != 0 || cookie != uint64(i) {
					t.Fatalf("reply %d: cookie %d errno %d err %v", i, cookie, errno, err)
				}
				if !bytes.Equal(got, data[i*tc.size:(i+1)*tc.size]) {
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
