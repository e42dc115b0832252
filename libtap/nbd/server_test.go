package nbd_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/vbd"
)

func TestListenTCPRefusesOtherMachinesWithoutTLS(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		if ln, err := nbd.ListenTCP(addr, nil); err == nil {
			ln.Close()
			t.Errorf("ListenTCP(%q, nil) listened; want refused", addr)
		}
	}
	ln, err := nbd.ListenTCP("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	ln, err = nbd.ListenTCP("0.0.0.0:0", &tls.Config{})
	if err != nil {
		t.Fatalf("ListenTCP with TLS: %v", err)
	}
	defer ln.Close()
	// Serve itself refuses to expose a non-loopback listener in clear.
	if err := nbd.NewServer(nbd.Options{}).Serve(context.Background(), ln); err == nil {
		t.Error("Serve on 0.0.0.0 without TLS: nil error")
	}
}

// TestStartTLS: with TLS required, options before STARTTLS are refused;
// after it, negotiation and I/O go on inside TLS.
func TestStartTLS(t *testing.T) {
	cfg, client := testTLS(t)
	v, err := vbd.Open(0, "ram:1M", vbd.Options{RingSlots: 4, SlotBuf: 4096})
	if err != nil {
		t.Fatal(err)
	}
	sock := serveVBD(t, v, nbd.Options{TLS: cfg, TLSRequired: true}).sock
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc)}
	c.read(make([]byte, 18))
	c.write(be.AppendUint32(nil, wire.ClientFixedNewstyle|wire.ClientNoZeroes))
	if typ, _ := c.option(wire.OptGo, make([]byte, 6)); typ != wire.RepErrTLSReqd {
		t.Fatalf("NBD_OPT_GO before TLS: %#x; want NBD_REP_ERR_TLS_REQD", typ)
	}
	if typ, _ := c.option(wire.OptStartTLS, nil); typ != wire.RepAck {
		t.Fatalf("NBD_OPT_STARTTLS: %#x; want ACK", typ)
	}
	tc := tls.Client(nc, client)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.nc, c.br = tc, bufio.NewReader(tc)
	typ, data := c.option(wire.OptGo, make([]byte, 6))
	for ; typ == wire.RepInfo; typ, data = c.optReply() {
	}
	if typ != wire.RepAck {
		t.Fatalf("NBD_OPT_GO inside TLS: %#x %q", typ, data)
	}
	if errno, got := c.do(wire.CmdRead, 0, 0, 4096, nil); errno != 0 || len(got) != 4096 {
		t.Fatalf("read inside TLS: errno %d, %d bytes", errno, len(got))
	}
}

// TestRemoveDrains: Remove answers what is in flight, then closes the
// export's connections; another export's connections are untouched.
func TestRemoveDrains(t *testing.T) {
	s := serve(t, "ram:8M")
	other, err := vbd.Open(1, "ram:1M", vbd.Options{RingSlots: 4, SlotBuf: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	s.srv.Add("other", other)
	c := dialExport(t, s.sock, "disk", false)
	keep := dialExport(t, s.sock, "other", false)

	// Hold the requests in flight: a paused VBD keeps them waiting.
	ctx := context.Background()
	if err := s.v.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 32
	for i := range n {
		c.send(wire.CmdRead, 0, uint64(i), uint64(i)*4096, 4096, nil)
	}
	for deadline := time.Now().Add(5 * time.Second); s.v.Ring().InUse() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests in flight; want %d", s.v.Ring().InUse(), n)
		}
	}
	removed := make(chan struct{})
	go func() {
		s.srv.Remove("disk")
		close(removed)
	}()
	select {
	case <-removed:
		t.Fatal("Remove returned with requests in flight")
	case <-time.After(100 * time.Millisecond):
	}
	if err := s.v.Resume(ctx, ""); err != nil {
		t.Fatal(err)
	}
	<-removed
	for i := range n {
		if _, errno, data, err := c.reply(4096); err != nil || errno != 0 || len(data) != 4096 {
			t.Fatalf("reply %d after Remove: errno %d, %d bytes, %v", i, errno, len(data), err)
		}
	}
	if _, _, _, err := c.reply(0); err == nil {
		t.Error("connection still open after Remove")
	}
	if errno, _ := keep.do(wire.CmdRead, 0, 0, 4096, nil); errno != 0 {
		t.Errorf("the other export's connection: errno %d", errno)
	}
}
