package nbd_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	nbdclient "gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/nbd"
)

// recording is what our own NBD client, the nbd: driver, sends a server:
// its negotiation, then a session of every command it issues.
type recording struct {
	handshake    []byte
	transmission []byte // ends with NBD_CMD_DISC
}

// recordClient runs the nbd: driver against a Server of theFuzzExport
// and records every byte it sends.
func recordClient(tb testing.TB) recording {
	tb.Helper()
	srv := nbd.NewServer(nbd.Options{Logger: quietLog})
	srv.Add("disk", theFuzzExport)
	sock := filepath.Join(tb.TempDir(), "record.sock")
	inner, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	ln := &recordingListener{Listener: inner}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), ln) }()

	// One connection: the recording is one connection's bytes.
	d, err := nbdclient.Dial("unix:"+sock, nbdclient.Options{Conns: 1})
	if err != nil {
		tb.Fatal(err)
	}
	// The server answered NBD_OPT_GO, so it has read the whole handshake.
	handshake := ln.recorded()
	// Small writes keep the seeds short: Go's fuzzer minimizes inputs in
	// time quadratic in their length.
	buf := make([]byte, 1024)
	steps := []func() error{
		func() error { return d.ReadV([][]byte{buf[:512]}, 0) },
		func() error { return d.WriteV([][]byte{buf[:512], buf[512:]}, 64<<10, true) },
		d.Flush,
		func() error { return d.Trim(128<<10, 4096) },
		func() error { return d.WriteZeroes(132<<10, 8192, true, false) },
		func() error { return d.WriteZeroes(140<<10, 4096, false, true) },
		func() error { _, err := d.Extents(nil, 0, fuzzSize); return err },
		func() error { return d.ReadV([][]byte{buf[:100]}, fuzzSize-100) }, // the unaligned tail
	}
	for i, step := range steps {
		if err := step(); err != nil {
			tb.Fatalf("recording step %d: %v", i, err)
		}
	}
	if err := d.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if err := <-served; err != nil {
		tb.Fatal(err)
	}
	all := ln.recorded()
	return recording{handshake: handshake, transmission: all[len(handshake):]}
}

// recordingListener keeps a copy of every byte its connections read.
type recordingListener struct {
	net.Listener
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, l: l}, nil
}

func (l *recordingListener) recorded() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

type recordingConn struct {
	net.Conn
	l *recordingListener
}

// SyscallConn lets the server check the peer's credentials.
func (c *recordingConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.l.mu.Lock()
	c.l.buf.Write(b[:n])
	c.l.mu.Unlock()
	return n, err
}
