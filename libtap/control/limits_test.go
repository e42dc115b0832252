package control

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// servedWithin reports whether a new client gets a reply to a request
// within d: a slot is given back just after its connection closes.
func servedWithin(t *testing.T, path string, d time.Duration) bool {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(time.Second))
		c.Write([]byte(`{"op":"pid"}` + "\n"))
		rep, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err == nil && strings.Contains(rep, `"ok":true`) {
			return true
		}
	}
	return false
}

// hungUp reports whether the server closed c within d (whatever it sent
// before is skipped).
func hungUp(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// TestMisbehavingClientsGiveTheirSlotBack: with room for one
// connection, a client that behaves for several idle timeouts is served
// throughout; once it stays silent, idles after a request, trickles its
// request or stops reading a watch, it is hung up after the idle
// timeout and the next client is served.
func TestMisbehavingClientsGiveTheirSlotBack(t *testing.T) {
	const idle = 200 * time.Millisecond
	request := []byte(`{"op":"pid"}` + "\n")
	tests := []struct {
		name      string
		watch     bool // the good phase is a watch, read
		misbehave func(c net.Conn)
	}{
		{"silent", false, func(net.Conn) {}},
		{"idle after a request", false, func(c net.Conn) { c.Write(request) }},
		{"trickle", false, func(c net.Conn) {
			go func() {
				for _, b := range request {
					if _, err := c.Write([]byte{b}); err != nil {
						return
					}
					time.Sleep(idle / 4)
				}
			}()
		}},
		{"stops reading a watch", true, func(net.Conn) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := serveWith(t, newFake(), t.TempDir(), Options{MaxConns: 1, IdleTimeout: idle})
			w := dialWire(t, path)
			// The good phase: three idle timeouts of requests, or of a
			// watch's lines, each well within the timeout.
			if tt.watch {
				// Long lines, so the socket's buffer fills in a few.
				image := "vhd:/" + strings.Repeat("x", 30000)
				if got := w.ask(`{"op":"open","minor":3,"image":"` + image + `"}`); !strings.Contains(got, `"ok":true`) {
					t.Fatalf("open: %s", got)
				}
				w.c.Write([]byte(`{"op":"watch","minor":3,"interval_ms":10}` + "\n"))
			}
			for end := time.Now().Add(3 * idle); time.Now().Before(end); {
				if tt.watch {
					w.reply()
					continue
				}
				if got := w.ask(string(request)); !strings.Contains(got, `"ok":true`) {
					t.Fatalf("good phase: %s", got)
				}
				time.Sleep(idle / 2)
			}
			start := time.Now()
			tt.misbehave(w.c)
			// Reading the rest (a watch's lines) would make room for
			// more: wait for the hang-up without reading.
			if !servedWithin(t, path, 10*time.Second) {
				t.Fatal("next client not served within 10 s")
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("next client served %v after the misbehaviour; want about %v", took, idle)
			}
			if !hungUp(w.c, time.Second) {
				t.Error("misbehaving connection still open")
			}
		})
	}
}

// TestConnLimit: beyond MaxConns a connection is closed without a
// reply; the others keep being served.
func TestConnLimit(t *testing.T) {
	path := serveWith(t, newFake(), t.TempDir(), Options{MaxConns: 2})
	a, b := dialWire(t, path), dialWire(t, path)
	for _, w := range []*rawConn{a, b} {
		if got := w.ask(`{"op":"pid"}`); !strings.Contains(got, `"ok":true`) {
			t.Fatalf("within the limit: %s", got)
		}
	}
	extra := dialWire(t, path)
	extra.c.Write([]byte(`{"op":"pid"}` + "\n"))
	if rep, err := extra.r.ReadString('\n'); err == nil {
		t.Errorf("third connection answered %s; want it closed", rep)
	}
	if got := a.ask(`{"op":"pid"}`); !strings.Contains(got, `"ok":true`) {
		t.Errorf("first connection after the refusal: %s", got)
	}
	b.c.Close()
	if !servedWithin(t, path, 5*time.Second) {
		t.Error("no new connection served after one of two closed")
	}
}
