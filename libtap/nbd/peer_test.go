package nbd

import (
	"net"
	"path/filepath"
	"testing"
)

// hidden hides a Unix connection's socket: no credentials to read.
type hidden struct{ net.Conn }

// TestAdmit: this process's own Unix connection is let in and TCP is
// left to TLS; a Unix connection whose peer cannot be read is refused.
// (Another uid refused: tapdisk's TestNBDSocketChecksPeer, with nbdinfo.)
func TestAdmit(t *testing.T) {
	pair := func(network, addr string) (client, server net.Conn) {
		ln, err := net.Listen(network, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		if client, err = net.Dial(network, ln.Addr().String()); err != nil {
			t.Fatal(err)
		}
		if server, err = ln.Accept(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close(); server.Close() })
		return client, server
	}
	_, ownUnix := pair("unix", filepath.Join(t.TempDir(), "s"))
	_, tcp := pair("tcp", "127.0.0.1:0")
	_, other := pair("unix", filepath.Join(t.TempDir(), "s"))
	tests := []struct {
		name string
		nc   net.Conn
		want bool
	}{
		{"own uid on unix", ownUnix, true},
		{"tcp", tcp, true},
		{"unix without credentials", hidden{other}, false},
	}
	s := NewServer(Options{})
	for _, tt := range tests {
		if got := s.admit(tt.nc); got != tt.want {
			t.Errorf("%s: admit = %v; want %v", tt.name, got, tt.want)
		}
	}
}
