package nbd_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/vbd"
)

// serveLimited serves a ram disk with opts.
func serveLimited(t *testing.T, opts nbd.Options) *served {
	t.Helper()
	v, err := vbd.Open(0, "ram:1M", vbd.Options{RingSlots: 4, SlotBuf: 4096})
	if err != nil {
		t.Fatal(err)
	}
	return serveVBD(t, v, opts)
}

// greeted reports whether a new connection gets the server's greeting:
// one beyond the limit is closed before it.
func greeted(t *testing.T, sock string) bool {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	_, err = io.ReadFull(c, make([]byte, 18))
	return err == nil
}

// greetedWithin retries greeted for d: a slot is given back just after
// its connection closes.
func greetedWithin(t *testing.T, sock string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if greeted(t, sock) {
			return true
		}
	}
	return false
}

// TestHandshakeDeadline: a client that does not finish negotiating
// within the handshake timeout is hung up, whatever it does meanwhile,
// and its slot goes to the next client.
func TestHandshakeDeadline(t *testing.T) {
	const timeout = 200 * time.Millisecond
	be := binary.BigEndian
	tests := []struct {
		name string
		act  func(c net.Conn)
	}{
		{"silent", func(net.Conn) {}},
		{"flags only", func(c net.Conn) { c.Write(be.AppendUint32(nil, wire.ClientFixedNewstyle)) }},
		{"trickles an option", func(c net.Conn) {
			b := be.AppendUint32(nil, wire.ClientFixedNewstyle)
			b = wire.OptionHeader{Opt: wire.OptGo, Length: 64}.Append(b)
			go func() {
				for _, x := range append(b, make([]byte, 64)...) {
					if _, err := c.Write([]byte{x}); err != nil {
						return
					}
					time.Sleep(timeout / 4)
				}
			}()
		}},
		{"lists forever", func(c net.Conn) {
			// Each option well within the timeout, never ending.
			c.Write(be.AppendUint32(nil, wire.ClientFixedNewstyle))
			go func() {
				for {
					if _, err := c.Write(wire.OptionHeader{Opt: wire.OptList}.Append(nil)); err != nil {
						return
					}
					time.Sleep(timeout / 4)
				}
			}()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serveLimited(t, nbd.Options{MaxConns: 1, HandshakeTimeout: timeout})
			c, err := net.Dial("unix", s.sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			tt.act(c)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			// EOF, or a reset when the server closed with bytes unread.
			if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("not hung up within 5 s: %v", err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("hung up after %v; want about %v", took, timeout)
			}
			if !greetedWithin(t, s.sock, 5*time.Second) {
				t.Error("its slot was not given back")
			}
		})
	}
}

// TestNegotiatedClientMayIdle: the handshake deadline ends with the
// handshake: a connected client idle for longer is still served.
func TestNegotiatedClientMayIdle(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := serveLimited(t, nbd.Options{HandshakeTimeout: timeout})
	c := dialRaw(t, s.sock, true)
	time.Sleep(3 * timeout)
	if errno, data := c.do(wire.CmdRead, 0, 0, 4096, nil); errno != 0 || len(data) != 4096 {
		t.Errorf("read after idling: errno %d, %d bytes", errno, len(data))
	}
}

// TestConnLimit: beyond MaxConns a connection is closed before the
// greeting; those within keep being served, and a slot given back goes
// to the next client.
func TestConnLimit(t *testing.T) {
	s := serveLimited(t, nbd.Options{MaxConns: 2})
	a, b := dialRaw(t, s.sock, false), dialRaw(t, s.sock, true)
	if greeted(t, s.sock) {
		t.Fatal("a third connection was greeted with a limit of 2")
	}
	if errno, _ := a.do(wire.CmdRead, 0, 0, 512, nil); errno != 0 {
		t.Errorf("read within the limit: errno %d", errno)
	}
	b.nc.Close()
	if !greetedWithin(t, s.sock, 5*time.Second) {
		t.Error("no new connection greeted after one of two closed")
	}
}

// TestShutdownDuringHandshake: Shutdown does not wait for a client in
// the middle of negotiating.
func TestShutdownDuringHandshake(t *testing.T) {
	v, err := vbd.Open(0, "ram:1M", vbd.Options{RingSlots: 4, SlotBuf: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	srv := nbd.NewServer(nbd.Options{})
	srv.Add("disk", v)
	ln, err := net.Listen("unix", t.TempDir()+"/nbd.sock")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.ReadFull(c, make([]byte, 18)) // greeted: in the handshake
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Shutdown took %v with a client negotiating", took)
	}
}
