package nbd_test

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/nbd/wire"
)

var be = binary.BigEndian

// script answers request i (counted from 0) of a connection: it appends
// the reply's bytes to b, whatever they are, and returns them.
type script func(i int, r wire.Request, b []byte) []byte

// scriptedSize is the size of the disk every scripted server serves:
// byte x reads as pattern[x], so that misplaced bytes show.
const scriptedSize = 1 << 20

var pattern = func() []byte {
	b := make([]byte, scriptedSize)
	for i := range b {
		b[i] = byte(i*7 + i>>8 + 1)
	}
	return b
}()

// dialScripted starts a server that negotiates honestly (structured
// replies and base:allocation if structured) and then answers requests
// with reply, and returns the nbd driver connected to it.
func dialScripted(t testing.TB, structured bool, reply script) *nbd.Disk {
	t.Helper()
	return dialServer(t, structured, 0, nbd.Options{}, func(_ int, br *bufio.Reader, w io.Writer) {
		answer(br, w, reply)
	})
}

// dialServer starts a server that negotiates honestly, offering the
// transmission flags extra beside flush, and then hands each connection
// (numbered from 0 as accepted) to serve; it returns the nbd driver
// connected to it with opts (timeouts of 5 s unless set).
func dialServer(t testing.TB, structured bool, extra uint16, opts nbd.Options, serve func(conn int, br *bufio.Reader, w io.Writer)) *nbd.Disk {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "scripted.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for i := 0; ; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(time.Minute))
				br := bufio.NewReader(nc)
				if negotiate(br, nc, structured, extra) == nil {
					serve(i, br, nc)
				}
			}()
		}
	}()
	if opts.OpenTimeout == 0 {
		opts.OpenTimeout = 5 * time.Second
	}
	if opts.IOTimeout == 0 {
		opts.IOTimeout = 5 * time.Second
	}
	d, err := nbd.Dial("unix:"+sock, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// negotiate is the server's side of the handshake, until NBD_OPT_GO.
func negotiate(br *bufio.Reader, w io.Writer, structured bool, extra uint16) error {
	if _, err := w.Write(wire.Greeting{Flags: wire.FlagFixedNewstyle | wire.FlagNoZeroes}.Append(nil)); err != nil {
		return err
	}
	var cf [4]byte
	if _, err := io.ReadFull(br, cf[:]); err != nil {
		return err
	}
	for {
		var hb [wire.OptionHeaderSize]byte
		if _, err := io.ReadFull(br, hb[:]); err != nil {
			return err
		}
		var h wire.OptionHeader
		h.Parse(&hb)
		opt := h.Opt
		if _, err := br.Discard(int(h.Length)); err != nil {
			return err
		}
		var b []byte
		switch {
		case opt == wire.OptStructuredReply && !structured:
			b = optReply(b, opt, wire.RepErrUnsup, nil)
		case opt == wire.OptSetMetaContext:
			b = optReply(b, opt, wire.RepMetaContext, wire.MetaContext{ID: 1, Name: wire.MetaBaseAllocation}.Append(nil))
			b = optReply(b, opt, wire.RepAck, nil)
		case opt == wire.OptGo:
			b = optReply(b, opt, wire.RepInfo, wire.Export{Size: scriptedSize, Flags: wire.FlagHasFlags | wire.FlagSendFlush | extra}.AppendInfo(nil))
			b = optReply(b, opt, wire.RepAck, nil)
		default:
			b = optReply(b, opt, wire.RepAck, nil)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		if opt == wire.OptGo {
			return nil
		}
	}
}

// optReply appends an option reply and its data to b.
func optReply(b []byte, opt, typ uint32, data []byte) []byte {
	return append(wire.OptionReply{Opt: opt, Type: typ, Length: uint32(len(data))}.Append(b), data...)
}

// answer reads requests and writes what reply makes of each, into one
// reused buffer: a well-behaved script costs no allocation per request.
func answer(br *bufio.Reader, w io.Writer, reply script) {
	var h [wire.RequestSize]byte
	b := make([]byte, 0, 64<<10)
	for i := 0; ; i++ {
		r, ok := nextRequest(br, &h)
		if !ok {
			return
		}
		b = reply(i, r, b[:0])
		if _, err := w.Write(b); err != nil {
			return
		}
	}
}

// nextRequest reads a request (its payload skipped); false at the end.
func nextRequest(br *bufio.Reader, h *[wire.RequestSize]byte) (wire.Request, bool) {
	var r wire.Request
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return r, false
	}
	r.Parse(h)
	if r.Type == wire.CmdWrite {
		br.Discard(int(r.Length))
	}
	return r, r.Type != wire.CmdDisc
}

// Reply builders for scripts.

// chunk appends a chunk header, whatever its fields.
func chunk(b []byte, flags, typ uint16, cookie uint64, length uint32) []byte {
	return wire.ChunkHeader{Flags: flags, Type: typ, Cookie: cookie, Length: length}.Append(b)
}

// simple appends a simple reply header.
func simple(b []byte, errno uint32, cookie uint64) []byte {
	return wire.SimpleReply{Errno: errno, Cookie: cookie}.Append(b)
}

// dataChunk is an OFFSET_DATA chunk carrying the disk's bytes at off.
func dataChunk(b []byte, flags uint16, cookie, off uint64, n int) []byte {
	b = chunk(b, flags, wire.ReplyOffsetData, cookie, uint32(wire.OffsetSize+n))
	b = be.AppendUint64(b, off)
	return append(b, pattern[off:off+uint64(n)]...)
}

func holeChunk(b []byte, flags uint16, cookie, off uint64, n uint32) []byte {
	b = chunk(b, flags, wire.ReplyOffsetHole, cookie, wire.HoleSize)
	return wire.Hole{Offset: off, Length: n}.Append(b)
}

func errorChunk(b []byte, flags uint16, cookie uint64, code uint32, msg string) []byte {
	b = chunk(b, flags, wire.ReplyError, cookie, uint32(wire.ErrorPayloadSize+len(msg)))
	b = wire.ErrorPayload{Errno: code, MessageLen: uint16(len(msg))}.Append(b)
	return append(b, msg...)
}

func noneChunk(b []byte, cookie uint64) []byte {
	return chunk(b, wire.ReplyFlagDone, wire.ReplyNone, cookie, 0)
}

// statusChunk is a BLOCK_STATUS chunk for context 1 with descriptors
// (length, flags) pairs.
func statusChunk(b []byte, flags uint16, cookie uint64, desc ...uint32) []byte {
	b = chunk(b, flags, wire.ReplyBlockStatus, cookie, uint32(wire.ContextIDSize+4*len(desc)))
	b = be.AppendUint32(b, 1)
	for _, x := range desc {
		b = be.AppendUint32(b, x)
	}
	return b
}

// honest answers every request as a well-behaved server: reads in one
// data chunk (or a simple reply), block status as all data, the rest
// with success.
func honest(structured bool) script {
	return func(_ int, r wire.Request, b []byte) []byte {
		switch {
		case r.Type == wire.CmdRead && structured:
			return dataChunk(b, wire.ReplyFlagDone, r.Cookie, r.Offset, int(r.Length))
		case r.Type == wire.CmdRead:
			return append(simple(b, 0, r.Cookie), pattern[r.Offset:r.Offset+uint64(r.Length)]...)
		case r.Type == wire.CmdBlockStatus:
			return statusChunk(b, wire.ReplyFlagDone, r.Cookie, r.Length, 0)
		}
		return simple(b, 0, r.Cookie)
	}
}
