package nbd_test

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"gotap.dev/libtap/nbd/wire"
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
	var g [wire.GreetingSize]byte
	c.read(g[:])
	if !new(wire.Greeting).Parse(&g) {
		t.Fatalf("greeting % x", g)
	}
	c.write(be.AppendUint32(nil, wire.ClientFixedNewstyle|wire.ClientNoZeroes))
	if typ, _ := c.option(0x4242, []byte("junk")); typ != wire.RepErrUnsup {
		t.Fatalf("unknown option: reply %#x; want NBD_REP_ERR_UNSUP", typ)
	}
	if structured {
		if typ, _ := c.option(wire.OptStructuredReply, nil); typ != wire.RepAck {
			t.Fatalf("structured reply: %#x", typ)
		}
		q := wire.AppendMetaQuery(nil, name, wire.MetaBaseAllocation)
		if typ, _ := c.option(wire.OptSetMetaContext, q); typ != wire.RepMetaContext {
			t.Fatalf("set meta context: %#x", typ)
		}
		if typ, _ := c.optReply(); typ != wire.RepAck {
			t.Fatalf("set meta context: final %#x", typ)
		}
	}
	typ, data := c.option(wire.OptGo, wire.AppendExportQuery(nil, name))
	for ; typ == wire.RepInfo; typ, data = c.optReply() {
		var e wire.Export
		if e.ParseInfo(data) {
			c.size, c.flags = int64(e.Size), e.Flags
		}
	}
	if typ != wire.RepAck {
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
	c.write(append(wire.OptionHeader{Opt: opt, Length: uint32(len(data))}.Append(nil), data...))
	return c.optReply()
}

func (c *rawClient) optReply() (uint32, []byte) {
	c.t.Helper()
	var b [wire.OptionReplySize]byte
	c.read(b[:])
	var h wire.OptionReply
	if !h.Parse(&b) {
		c.t.Fatalf("option reply magic % x", b)
	}
	data := make([]byte, h.Length)
	c.read(data)
	return h.Type, data
}

// send writes one request header, and payload if any.
func (c *rawClient) send(typ, flags uint16, cookie uint64, off uint64, n uint32, payload []byte) {
	c.t.Helper()
	c.write(append(wire.Request{Type: typ, Flags: flags, Cookie: cookie, Offset: off, Length: n}.Append(nil), payload...))
}

// reply reads one whole reply: its cookie, NBD error and data (read
// data, or block status descriptors after the context id).
func (c *rawClient) reply(readLen int) (cookie uint64, errno uint32, data []byte, err error) {
	c.t.Helper()
	m, err := c.br.Peek(4)
	if err != nil {
		return 0, 0, nil, err
	}
	switch be.Uint32(m) {
	case wire.SimpleMagic:
		var b [wire.SimpleReplySize]byte
		c.read(b[:])
		var r wire.SimpleReply
		r.Parse(&b)
		if r.Errno == 0 && readLen > 0 {
			data = make([]byte, readLen)
			c.read(data)
		}
		return r.Cookie, r.Errno, data, nil
	case wire.StructuredMagic:
		var b [wire.ChunkHeaderSize]byte
		c.read(b[:])
		var h wire.ChunkHeader
		h.Parse(&b)
		payload := make([]byte, h.Length)
		c.read(payload)
		if h.Flags&wire.ReplyFlagDone == 0 {
			c.t.Fatalf("chunk type %d without DONE: the server splits nothing", h.Type)
		}
		switch h.Type {
		case wire.ReplyError:
			return h.Cookie, be.Uint32(payload), nil, nil
		case wire.ReplyOffsetData:
			return h.Cookie, 0, payload[wire.OffsetSize:], nil
		case wire.ReplyBlockStatus:
			return h.Cookie, 0, payload[wire.ContextIDSize:], nil
		case wire.ReplyNone:
			return h.Cookie, 0, nil, nil
		}
		c.t.Fatalf("unexpected chunk type %d", h.Type)
	}
	return 0, 0, nil, fmt.Errorf("bad reply magic % x", m)
}

// do sends a request and waits for its reply.
func (c *rawClient) do(typ, flags uint16, off uint64, n uint32, payload []byte) (uint32, []byte) {
	c.t.Helper()
	c.send(typ, flags, 7, off, n, payload)
	readLen := 0
	if typ == wire.CmdRead {
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
