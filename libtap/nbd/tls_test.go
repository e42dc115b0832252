package nbd_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/nbd/nbdtest"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/vbd"
)

// testTLS is a server's TLS with a certificate from a fresh CA and no
// client verification, and a client's that trusts that CA.
func testTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	ca := nbdtest.NewCA(t, "test CA")
	ca.Trust(t, dir)
	ca.Server(t, dir)
	server, err := nbd.ServerTLS(filepath.Join(dir, "server-cert.pem"), filepath.Join(dir, "server-key.pem"), "")
	if err != nil {
		t.Fatal(err)
	}
	return server, nbdtest.ClientTLS(t, dir)
}

// TestClientCertificates: a TCP listener whose TLS verifies clients lets
// in only a client with a certificate from its CA; a client in clear is
// told TLS is required even on loopback (or it would skip the check).
func TestClientCertificates(t *testing.T) {
	ca, other := nbdtest.NewCA(t, "tapdisk CA"), nbdtest.NewCA(t, "another CA")
	serverDir := t.TempDir()
	ca.Trust(t, serverDir)
	ca.Server(t, serverDir)
	cfg, err := nbd.ServerTLS(filepath.Join(serverDir, "server-cert.pem"), filepath.Join(serverDir, "server-key.pem"), filepath.Join(serverDir, "ca-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTCP(t, nbd.Options{TLS: cfg})

	noCert, otherCert, good := t.TempDir(), t.TempDir(), t.TempDir()
	for _, dir := range []string{noCert, otherCert, good} {
		ca.Trust(t, dir) // each client trusts the server: only its own certificate differs
	}
	other.Client(t, otherCert)
	ca.Client(t, good)
	tests := []struct {
		name   string
		client *tls.Config // nil: stay in clear
		wantIn bool
	}{
		{"in clear", nil, false},
		{"no client certificate", nbdtest.ClientTLS(t, noCert), false},
		{"another CA's certificate", nbdtest.ClientTLS(t, otherCert), false},
		{"the CA's certificate", nbdtest.ClientTLS(t, good), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := dialTLS(t, addr, tt.client)
			if in := err == nil; in != tt.wantIn {
				t.Fatalf("negotiation: %v; want let in: %v", err, tt.wantIn)
			}
			if !tt.wantIn {
				return
			}
			if errno, got := c.do(wire.CmdRead, 0, 0, 4096, nil); errno != 0 || len(got) != 4096 {
				t.Errorf("read: errno %d, %d bytes", errno, len(got))
			}
		})
	}
}

// serveTCP serves a 1 MiB RAM disk on a loopback TCP port and returns
// its address.
func serveTCP(t *testing.T, opts nbd.Options) string {
	t.Helper()
	v, err := vbd.Open(0, "ram:1M", vbd.Options{RingSlots: 4, SlotBuf: 4096})
	if err != nil {
		t.Fatal(err)
	}
	srv := nbd.NewServer(opts)
	srv.Add("disk", v)
	ln, err := nbd.ListenTCP("127.0.0.1:0", opts.TLS)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
		v.Close(context.Background())
	})
	return ln.Addr().String()
}

// dialTLS negotiates as a client that starts TLS with cfg (or, with nil,
// asks for the export in clear) and returns the error that ended the
// negotiation, or the client ready for requests.
func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*rawClient, error) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.read(make([]byte, 18))
	c.write(be.AppendUint32(nil, wire.ClientFixedNewstyle|wire.ClientNoZeroes))
	if cfg != nil {
		if typ, _ := c.option(wire.OptStartTLS, nil); typ != wire.RepAck {
			t.Fatalf("NBD_OPT_STARTTLS: %#x; want ACK", typ)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.Handshake(); err != nil {
			return nil, err
		}
		c.nc, c.br = tc, bufio.NewReader(tc)
	}
	c.write(append(wire.OptionHeader{Opt: wire.OptGo, Length: 6}.Append(nil), make([]byte, 6)...))
	// In TLS 1.3 the server judges the client's certificate after the
	// client's handshake is done: a refusal arrives as the first read.
	if _, err := c.br.Peek(1); err != nil {
		return nil, err
	}
	typ, data := c.optReply()
	for ; typ == wire.RepInfo; typ, data = c.optReply() {
	}
	if typ != wire.RepAck {
		return nil, errors.New("NBD_OPT_GO refused: " + string(data))
	}
	return c, nil
}

// TestServerTLSRefusesBadCA: a client CA file that holds no certificate
// is an error, not a server that verifies nobody (or everybody).
func TestServerTLSRefusesBadCA(t *testing.T) {
	dir := t.TempDir()
	ca := nbdtest.NewCA(t, "test CA")
	ca.Server(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "server-cert.pem"), filepath.Join(dir, "server-key.pem")
	for _, caFile := range []string{junk, filepath.Join(dir, "missing.pem"), key} {
		if _, err := nbd.ServerTLS(cert, key, caFile); err == nil {
			t.Errorf("ServerTLS with client CA %s: no error", filepath.Base(caFile))
		}
	}
}
