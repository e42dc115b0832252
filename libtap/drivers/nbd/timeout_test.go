package nbd_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/vbd"
)

// proxy forwards a Unix socket to an NBD server until cut: then the
// server either falls silent (its replies are dropped) or hangs up.
type proxy struct {
	sock   string
	silent atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn // the client sides
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	p := &proxy{sock: filepath.Join(t.TempDir(), "proxy.sock")}
	ln, err := net.Listen("unix", p.sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); p.hangUp() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go io.Copy(s, c)
			go p.replies(c, s)
		}
	}()
	return p
}

// replies copies the server's bytes to the client, or drops them once
// the proxy is silent.
func (p *proxy) replies(c, s net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 && !p.silent.Load() {
			c.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) hangUp() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// TestServerFailureIsAnErrorNotAHang: a backing server that falls silent
// or hangs up fails the request in flight with EIO, to the VBD's client,
// within the I/O timeout; later requests fail at once.
func TestServerFailureIsAnErrorNotAHang(t *testing.T) {
	const ioTimeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name string
		cut  func(*proxy)
	}{
		{"silent", func(p *proxy) { p.silent.Store(true) }},
		{"hangs up", (*proxy).hangUp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProxy(t, export(t, "ram:4M"))
			v, err := vbd.Open(1, "nbd:unix:"+p.sock, vbd.Options{
				RingSlots: 8, SlotBuf: 64 << 10, ReopenTries: 1,
				OpenDriver: func(spec string, o drivers.Options) (disk.Driver, error) {
					return nbd.Dial(spec[len("nbd:"):], nbd.Options{ReadOnly: o.ReadOnly, IOTimeout: ioTimeout})
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close(context.Background())
			if err := read(v); err != nil {
				t.Fatalf("read before the cut: %v", err)
			}
			tc.cut(p)
			for i, within := range []time.Duration{ioTimeout + 2*time.Second, time.Second} {
				start := time.Now()
				if err := read(v); !errors.Is(err, syscall.EIO) {
					t.Errorf("read %d after the cut: err = %v; want EIO", i, err)
				}
				if took := time.Since(start); took > within {
					t.Errorf("read %d after the cut took %v; want at most %v", i, took, within)
				}
			}
		})
	}
}

// read reads 4 KiB through v and returns the request's error.
func read(v *vbd.VBD) error {
	done := make(chan *ring.Request, 1)
	req, _ := v.Ring().Get(context.Background())
	req.Op, req.Offset, req.Length, req.Owner = ring.Read, 0, 4096, completer(done)
	req.Data(4096)
	v.Submit(req)
	select {
	case r := <-done:
		err := r.Err
		v.Ring().Put(r)
		return err
	case <-time.After(30 * time.Second):
		return errors.New("no completion in 30 s: the request hangs")
	}
}

type completer chan *ring.Request

func (c completer) Complete(r *ring.Request) { c <- r }

// TestOpenGivesUpOnASilentServer: a server that accepts and never speaks
// fails Dial at its open timeout instead of hanging the open.
func TestOpenGivesUpOnASilentServer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "mute.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	const timeout = 200 * time.Millisecond
	start := time.Now()
	if _, err := nbd.Dial("unix:"+sock, nbd.Options{OpenTimeout: timeout}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Dial to a silent server: err = %v; want a deadline exceeded", err)
	}
	if took := time.Since(start); took > timeout+2*time.Second {
		t.Errorf("Dial took %v with a %v open timeout", took, timeout)
	}
	(<-accepted).Close()
}

// TestStarvedRequestTimesOut: the I/O timeout bounds each request, not
// the server's silence: a server that answers every request but one,
// busy as it is, still has that one fail with EIO within about the
// timeout (and the rest with it: the connection is given up).
func TestStarvedRequestTimesOut(t *testing.T) {
	const ioTimeout = 200 * time.Millisecond
	first := make(chan struct{})
	d := dialServer(t, true, 0, nbd.Options{IOTimeout: ioTimeout}, func(_ int, br *bufio.Reader, w io.Writer) {
		answer(br, w, func(i int, r wire.Request, b []byte) []byte {
			if i == 0 {
				close(first)
				return b // never answered
			}
			return honest(true)(i, r, b)
		})
	})
	starved := make(chan error, 1)
	start := time.Now()
	go func() { starved <- d.ReadV([][]byte{make([]byte, 4096)}, 0) }()
	<-first
	buf := make([]byte, 4096)
	answered := 0
	for {
		select {
		case err := <-starved:
			if !errors.Is(err, syscall.EIO) {
				t.Errorf("the starved read: %v; want EIO", err)
			}
			if took := time.Since(start); took < ioTimeout || took > 2*ioTimeout+time.Second {
				t.Errorf("the starved read failed after %v; want about %v", took, ioTimeout)
			}
			if answered == 0 {
				t.Error("no other read was answered meanwhile")
			}
			return
		default:
		}
		if err := d.ReadV([][]byte{buf}, 8192); err == nil {
			answered++
		}
		time.Sleep(time.Millisecond)
	}
}
