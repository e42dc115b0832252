package peercred

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestAllow(t *testing.T) {
	const self = 1000
	tests := []struct {
		uid  uint32
		want error
	}{{0, nil}, {self, nil}, {1001, syscall.EPERM}, {65534, syscall.EPERM}}
	for _, tt := range tests {
		err := Allow(&unix.Ucred{Pid: 42, Uid: tt.uid, Gid: tt.uid}, self)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("Allow(uid %d) = %v; want %v", tt.uid, err, tt.want)
		}
	}
}

// TestCheckSelf: a connection from this process is its own uid and pid,
// and is let in.
func TestCheckSelf(t *testing.T) {
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	peer, err := Of(server.(*net.UnixConn))
	if err != nil || int(peer.Uid) != os.Geteuid() || int(peer.Pid) != os.Getpid() {
		t.Fatalf("Of() = %+v, %v; want uid %d pid %d", peer, err, os.Geteuid(), os.Getpid())
	}
	if err := Check(server.(*net.UnixConn), os.Geteuid()); err != nil {
		t.Errorf("Check(own connection) = %v", err)
	}
}
