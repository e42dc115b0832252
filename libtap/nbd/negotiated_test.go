package nbd_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/internal/sockpair"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/vbd"
)

// TestServeNegotiated: a socket handed over in the transmission phase,
// as nbd.ko gets it, is served at once with simple replies: a write, a
// flush and a read back, then a disconnect ends ServeNegotiated.
func TestServeNegotiated(t *testing.T) {
	v, err := vbd.Open(0, "ram:1M", vbd.Options{RingSlots: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	srv := nbd.NewServer(nbd.Options{})
	srv.Add("disk", v)
	ours, kernel, err := sockpair.New()
	if err != nil {
		t.Fatal(err)
	}
	defer kernel.Close()
	done := make(chan error, 1)
	go func() { done <- srv.ServeNegotiated(ours, "disk") }()

	kernel.SetDeadline(time.Now().Add(30 * time.Second))
	c := &rawClient{t: t, nc: kernel, br: bufio.NewReader(kernel)}
	data := bytes.Repeat([]byte{0xa5}, 4096)
	for _, r := range []struct {
		name    string
		typ     uint16
		payload []byte
		want    []byte
	}{
		{"write", wire.CmdWrite, data, nil},
		{"flush", wire.CmdFlush, nil, nil},
		{"read", wire.CmdRead, nil, data},
	} {
		n := uint32(len(data))
		if r.typ == wire.CmdFlush {
			n = 0
		}
		errno, got := c.do(r.typ, 0, 8192, n, r.payload)
		if errno != 0 || !bytes.Equal(got, r.want) {
			t.Fatalf("%s: errno %d, %d bytes; want 0, %d", r.name, errno, len(got), len(r.want))
		}
	}
	c.send(wire.CmdDisc, 0, 8, 0, 0, nil)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeNegotiated = %v; want nil after a disconnect", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeNegotiated still running after NBD_CMD_DISC")
	}
}

// TestServeNegotiatedRefusals: an unknown export, or a server shut
// down, closes the socket handed over and says why.
func TestServeNegotiatedRefusals(t *testing.T) {
	v, err := vbd.Open(0, "ram:1M", vbd.Options{RingSlots: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	for _, tc := range []struct {
		name    string
		export  string
		down    bool
		wantErr error
	}{
		{"unknown export", "other", false, nil},
		{"shut down", "disk", true, net.ErrClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := nbd.NewServer(nbd.Options{})
			srv.Add("disk", v)
			srv.Add("disk2", v) // two exports: no name stands for any
			if tc.down {
				srv.Shutdown(context.Background())
			}
			ours, kernel, err := sockpair.New()
			if err != nil {
				t.Fatal(err)
			}
			defer kernel.Close()
			err = srv.ServeNegotiated(ours, tc.export)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("ServeNegotiated = %v; want an error (%v)", err, tc.wantErr)
			}
			kernel.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := kernel.Read(make([]byte, 1)); n != 0 || err == nil {
				t.Fatalf("kernel end read %d, %v; want the end of the stream", n, err)
			}
		})
	}
}

// TestKernelFlags: nbd.ko is never offered what needs structured
// replies, and a read-only export says so.
func TestKernelFlags(t *testing.T) {
	for _, tc := range []struct {
		spec     string
		readOnly bool
	}{{"ram:1M", false}, {"ram:1M", true}} {
		v, err := vbd.Open(0, tc.spec, vbd.Options{RingSlots: 8, Drivers: drivers.Options{ReadOnly: tc.readOnly}})
		if err != nil {
			t.Fatal(err)
		}
		f := nbd.KernelFlags(v)
		v.Close(context.Background())
		if f&wire.FlagSendDF != 0 || f&wire.FlagHasFlags == 0 || f&wire.FlagSendFlush == 0 {
			t.Errorf("read-only %v: flags %#x; want HAS_FLAGS and SEND_FLUSH, not DF", tc.readOnly, f)
		}
		if got := f&wire.FlagReadOnly != 0; got != tc.readOnly {
			t.Errorf("read-only %v: READ_ONLY flag %v", tc.readOnly, got)
		}
	}
}
