package nbd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/internal/sockpair"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/ring"
)

// The fuzz targets' disk: an odd size, so that its unaligned last bytes
// are in play too.
const fuzzSize = 256<<10 + 100

// fuzzTimeout bounds one fuzz input's session: the server must have
// answered and closed by then, or it hangs.
const fuzzTimeout = 10 * time.Second

// fuzzExport is a disk whose requests complete at once, in order, so
// that the replies come in request order. It keeps no data: the server,
// not the disk, is under test. Like a VBD it refuses ranges outside the
// disk; it notes any read or write whose buffer the server got wrong
// (not the request's length, or more than a slot may hold).
type fuzzExport struct {
	ring *ring.Ring
	mu   sync.Mutex
	bad  error // the first request with a wrong buffer
}

// One export for every input: its ring is allocated once, and every
// session must give all its slots back.
var theFuzzExport = &fuzzExport{ring: ring.New(8, 64<<10)}

func (e *fuzzExport) Size() int64 { return fuzzSize }
func (e *fuzzExport) Caps() disk.Caps {
	return disk.Caps{FUA: disk.Native, Trim: disk.Native, Zero: disk.Native, FastZero: disk.Native}
}
func (e *fuzzExport) Ring() *ring.Ring { return e.ring }

func (e *fuzzExport) Submit(req *ring.Request) {
	off, n := req.Offset, req.Length
	switch {
	case (req.Op == ring.Read || req.Op == ring.Write) && (int64(len(req.Buf)) != n || n > wire.MaxBlock):
		e.note(fmt.Errorf("the server passed on a %v of %d bytes with a %d-byte buffer", req.Op, n, len(req.Buf)))
		req.Err = syscall.EINVAL
	case req.Op == ring.Flush:
	case off < 0 || n <= 0 || off > fuzzSize || n > fuzzSize-off:
		req.Err = syscall.ENOSPC
	case req.Op == ring.BlockStatus:
		req.Extents = extents(req.Extents, off, n)
	}
	req.Owner.Complete(req)
}

// SubmitBatch makes the connections batch their requests, as they do
// for a VBD.
func (e *fuzzExport) SubmitBatch(reqs []*ring.Request) {
	for _, req := range reqs {
		e.Submit(req)
	}
}

// extents alternates data and holes every 4608 bytes: boundaries off the
// 4 KiB grid, for the server to align.
func extents(dst []disk.Extent, off, n int64) []disk.Extent {
	const run = 4608
	for pos, end := off, off+n; pos < end; {
		next := min((pos/run+1)*run, end)
		dst = disk.AppendExtent(dst, disk.Extent{Offset: pos, Length: next - pos, Hole: pos/run%2 == 1})
		pos = next
	}
	return dst
}

func (e *fuzzExport) note(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.bad == nil {
		e.bad = err
	}
}

// takeBad returns and forgets what inRange noted.
func (e *fuzzExport) takeBad() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.bad
	e.bad = nil
	return err
}

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// session is one connection to a fresh Server of theFuzzExport, over a
// socket pair: no file system, no listening socket.
type session struct {
	t      *testing.T
	client *net.UnixConn
	br     *bufio.Reader
	srv    *nbd.Server
	served chan error
}

func startSession(t *testing.T) *session {
	t.Helper()
	client, server, err := sockpair.New()
	if err != nil {
		t.Fatal(err)
	}
	s := &session{t: t, client: client, br: bufio.NewReader(client), srv: nbd.NewServer(nbd.Options{Logger: quietLog}), served: make(chan error, 1)}
	s.srv.Add("disk", theFuzzExport)
	client.SetDeadline(time.Now().Add(fuzzTimeout))
	go func() {
		s.served <- s.srv.Serve(context.Background(), &oneConn{c: server, closed: make(chan struct{})})
	}()
	return s
}

// send writes data as the client, from another goroutine (the server's
// replies are read meanwhile), then closes the client's sending half:
// the server sees the end of its input.
func (s *session) send(data []byte) {
	go func() {
		s.client.Write(data)
		s.client.CloseWrite()
	}()
}

// drain reads whatever the server still sends, up to its close.
func (s *session) drain() {
	s.t.Helper()
	if n, err := io.Copy(io.Discard, s.br); err != nil {
		s.t.Fatalf("after %d more bytes: %v (the server did not close the connection)", n, err)
	}
}

// finish checks the session ended as it must: the server closed the
// connection right after the replies already read (no hang, nothing
// answered that was not asked), shuts down at once, gave every ring slot
// back, and passed no request outside the disk.
func (s *session) finish() {
	s.t.Helper()
	defer s.client.Close()
	if b, err := s.br.ReadByte(); err != io.EOF {
		s.t.Fatalf("after the last reply: byte %#x, err %v; want the connection closed", b, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), fuzzTimeout)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.t.Fatalf("Shutdown: %v", err)
	}
	if err := <-s.served; err != nil {
		s.t.Fatalf("Serve: %v", err)
	}
	if n := theFuzzExport.ring.InUse(); n != 0 {
		s.t.Fatalf("%d ring slots still in use after the connection closed", n)
	}
	if err := theFuzzExport.takeBad(); err != nil {
		s.t.Fatal(err)
	}
}

// oneConn is a listener that hands out one connection, then waits to be
// closed.
type oneConn struct {
	c      net.Conn
	handed atomic.Bool
	once   sync.Once
	closed chan struct{}
}

func (l *oneConn) Accept() (net.Conn, error) {
	if l.handed.CompareAndSwap(false, true) {
		return l.c, nil
	}
	<-l.closed
	return nil, net.ErrClosed
}

func (l *oneConn) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConn) Addr() net.Addr { return l.c.LocalAddr() }
