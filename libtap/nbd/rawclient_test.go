package nbd_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"gotap.dev/libtap/nbd"
)

var be = binary.BigEndian

// rawClient speaks the protocol byte by byte, so that tests can break it.
type rawClient struct {
	t          testing.TB
	nc         net.Conn
	br         *bufio.Reader
	structured bool
	size       int64
	flags      uint16
}

// dialRaw connects and negotiates (structured replies and base:allocation
// if asked), sending an unknown option first: the server must refuse it
// and go on.
func dialRaw(t testing.TB, sock string, structured bool) *rawClient {
	t.Helper()
	return dialExport(t, sock, "", structured)
}

// dialExport is dialRaw for a named export.
func dialExport(t testing.TB, sock, name string, structured bool) *rawClient {
	t.Helper()
	nc, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	c := &rawClient{t: t, nc: nc, br: bufio.NewReader(nc), structured: structured}
	var g [18]byte
	c.read(g[:])
	if be.Uint64(g[:]) != nbd.InitMagic || be.Uint64(g[8:]) != nbd.OptMagic {
		t.Fatalf("greeting % x", g)
	}
	c.write(be.AppendUint32(nil, nbd.ClientFixedNewstyle|nbd.ClientNoZeroes))
	if typ, _ := c.option(0x4242, []byte("junk")); typ != nbd.RepErrUnsup {
		t.Fatalf("unknown option: reply %#x; want NBD_REP_ERR_UNSUP", typ)
	}
	if structured {
		if typ, _ := c.option(nbd.OptStructuredReply, nil); typ != nbd.RepAck {
			t.Fatalf("structured reply: %#x", typ)
		}
		q := append(be.AppendUint32(nil, uint32(len(name))), name...)
		q = be.AppendUint32(q, 1)
		q = be.AppendUint32(q, uint32(len(nbd.MetaBaseAllocation)))
		if typ, _ := c.option(nbd.OptSetMetaContext, append(q, nbd.MetaBaseAllocation...)); typ != nbd.RepMetaContext {
			t.Fatalf("set meta context: %#x", typ)
		}
		if typ, _ := c.optReply(); typ != nbd.RepAck {
			t.Fatalf("set meta context: final %#x", typ)
		}
	}
	typ, data := c.option(nbd.OptGo, append(append(be.AppendUint32(nil, uint32(len(name))), name...), 0, 0))
	for ; typ == nbd.RepInfo; typ, data = c.optReply() {
		if be.Uint16(data) == nbd.InfoExport {
			c.size, c.flags = int64(be.Uint64(data[2:])), be.Uint16(data[10:])
		}
	}
	if typ != nbd.RepAck {
		t.Fatalf("NBD_OPT_GO: %#x %q", typ, data)
	}
	return c
}

func (c *rawClient) read(b []byte) {
	c.t.Helper()
	if _, err := io.ReadFull(c.br, b); err != nil {
		c.t.Fatalf("read: %v", err)
	}
}

func (c *rawClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) option(opt uint32, data []byte) (uint32, []byte) {
	c.t.Helper()
	c.write(append(nbd.PutOption(nil, opt, uint32(len(data))), data...))
	return c.optReply()
}

func (c *rawClient) optReply() (uint32, []byte) {
	c.t.Helper()
	var h [nbd.OptReplyHeader]byte
	c.read(h[:])
	if be.Uint64(h[:]) != nbd.OptReplyMagic {
		c.t.Fatalf("option reply magic % x", h)
	}
	data := make([]byte, be.Uint32(h[16:]))
	c.read(data)
	return be.Uint32(h[12:]), data
}

// send writes one request header, and payload if any.
func (c *rawClient) send(typ, flags uint16, cookie uint64, off uint64, n uint32, payload []byte) {
	c.t.Helper()
	var b [nbd.RequestSize]byte
	(&nbd.Request{Type: typ, Flags: flags, Cookie: cookie, Offset: off, Length: n}).Put(&b)
	c.write(append(b[:], payload...))
}

// reply reads one whole reply: its cookie, NBD error and data (read
// data, or block status descriptors after the context id).
func (c *rawClient) reply(readLen int) (cookie uint64, errno uint32, data []byte, err error) {
	c.t.Helper()
	var m [4]byte
	if _, err := io.ReadFull(c.br, m[:]); err != nil {
		return 0, 0, nil, err
	}
	switch be.Uint32(m[:]) {
	case nbd.SimpleMagic:
		var h [12]byte
		c.read(h[:])
		errno, cookie = be.Uint32(h[:]), be.Uint64(h[4:])
		if errno == 0 && readLen > 0 {
			data = make([]byte, readLen)
			c.read(data)
		}
		return cookie, errno, data, nil
	case nbd.StructuredMagic:
		var h [16]byte
		c.read(h[:])
		flags, typ := be.Uint16(h[:]), be.Uint16(h[2:])
		cookie = be.Uint64(h[4:])
		payload := make([]byte, be.Uint32(h[12:]))
		c.read(payload)
		if flags&nbd.ReplyFlagDone == 0 {
			c.t.Fatalf("chunk type %d without DONE: the server splits nothing", typ)
		}
		switch typ {
		case nbd.ReplyError:
			return cookie, be.Uint32(payload), nil, nil
		case nbd.ReplyOffsetData:
			return cookie, 0, payload[8:], nil // after the offset
		case nbd.ReplyBlockStatus:
			return cookie, 0, payload[4:], nil // after the context id
		case nbd.ReplyNone:
			return cookie, 0, nil, nil
		}
		c.t.Fatalf("unexpected chunk type %d", typ)
	}
	return 0, 0, nil, fmt.Errorf("bad reply magic % x", m)
}

// do sends a request and waits for its reply.
func (c *rawClient) do(typ, flags uint16, off uint64, n uint32, payload []byte) (uint32, []byte) {
	c.t.Helper()
	c.send(typ, flags, 7, off, n, payload)
	readLen := 0
	if typ == nbd.CmdRead {
		readLen = int(n)
	}
	cookie, errno, data, err := c.reply(readLen)
	if err != nil {
		c.t.Fatalf("cmd %d: %v", typ, err)
	}
	if cookie != 7 {
		c.t.Fatalf("cmd %d: cookie %d; want 7", typ, cookie)
	}
	return errno, data
}
