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
	proto "gotap.dev/libtap/nbd"
)

var be = binary.BigEndian

// script answers request i (counted from 0) of a connection: it appends
// the reply's bytes to b, whatever they are, and returns them.
type script func(i int, r proto.Request, b []byte) []byte

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
	sock := filepath.Join(t.TempDir(), "scripted.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(time.Minute))
		br := bufio.NewReader(nc)
		if negotiate(br, nc, structured) == nil {
			answer(br, nc, reply)
		}
	}()
	d, err := nbd.Dial("unix:"+sock, nbd.Options{OpenTimeout: 5 * time.Second, IOTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// negotiate is the server's side of the handshake, until NBD_OPT_GO.
func negotiate(br *bufio.Reader, w io.Writer, structured bool) error {
	g := be.AppendUint64(nil, proto.InitMagic)
	g = be.AppendUint64(g, proto.OptMagic)
	if _, err := w.Write(be.AppendUint16(g, proto.FlagFixedNewstyle|proto.FlagNoZeroes)); err != nil {
		return err
	}
	var cf [4]byte
	if _, err := io.ReadFull(br, cf[:]); err != nil {
		return err
	}
	for {
		var h [proto.OptionHeaderSize]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return err
		}
		opt := be.Uint32(h[8:])
		if _, err := br.Discard(int(be.Uint32(h[12:]))); err != nil {
			return err
		}
		var b []byte
		switch {
		case opt == proto.OptStructuredReply && !structured:
			b = proto.PutOptReply(b, opt, proto.RepErrUnsup, 0)
		case opt == proto.OptSetMetaContext:
			ctx := append(be.AppendUint32(nil, 1), proto.MetaBaseAllocation...)
			b = append(proto.PutOptReply(b, opt, proto.RepMetaContext, uint32(len(ctx))), ctx...)
			b = proto.PutOptReply(b, opt, proto.RepAck, 0)
		case opt == proto.OptGo:
			info := be.AppendUint16(nil, proto.InfoExport)
			info = be.AppendUint64(info, scriptedSize)
			info = be.AppendUint16(info, proto.FlagHasFlags|proto.FlagSendFlush)
			b = append(proto.PutOptReply(b, opt, proto.RepInfo, uint32(len(info))), info...)
			b = proto.PutOptReply(b, opt, proto.RepAck, 0)
		default:
			b = proto.PutOptReply(b, opt, proto.RepAck, 0)
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		if opt == proto.OptGo {
			return nil
		}
	}
}

// answer reads requests and writes what reply makes of each, into one
// reused buffer: a well-behaved script costs no allocation per request.
func answer(br *bufio.Reader, w io.Writer, reply script) {
	var h [proto.RequestSize]byte
	b := make([]byte, 0, 64<<10)
	for i := 0; ; i++ {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		var r proto.Request
		r.Parse(&h)
		if r.Type == proto.CmdDisc {
			return
		}
		if r.Type == proto.CmdWrite {
			br.Discard(int(r.Length))
		}
		b = reply(i, r, b[:0])
		if _, err := w.Write(b); err != nil {
			return
		}
	}
}

// Reply builders for scripts.

// dataChunk is an OFFSET_DATA chunk carrying the disk's bytes at off.
func dataChunk(b []byte, flags uint16, cookie, off uint64, n int) []byte {
	b = proto.PutChunk(b, flags, proto.ReplyOffsetData, cookie, uint32(8+n))
	b = be.AppendUint64(b, off)
	return append(b, pattern[off:off+uint64(n)]...)
}

func holeChunk(b []byte, flags uint16, cookie, off uint64, n uint32) []byte {
	b = proto.PutChunk(b, flags, proto.ReplyOffsetHole, cookie, 12)
	b = be.AppendUint64(b, off)
	return be.AppendUint32(b, n)
}

func errorChunk(b []byte, flags uint16, cookie uint64, code uint32, msg string) []byte {
	b = proto.PutChunk(b, flags, proto.ReplyError, cookie, uint32(6+len(msg)))
	b = be.AppendUint32(b, code)
	b = be.AppendUint16(b, uint16(len(msg)))
	return append(b, msg...)
}

func noneChunk(b []byte, cookie uint64) []byte {
	return proto.PutChunk(b, proto.ReplyFlagDone, proto.ReplyNone, cookie, 0)
}

// statusChunk is a BLOCK_STATUS chunk for context 1 with descriptors
// (length, flags) pairs.
func statusChunk(b []byte, flags uint16, cookie uint64, desc ...uint32) []byte {
	b = proto.PutChunk(b, flags, proto.ReplyBlockStatus, cookie, uint32(4+4*len(desc)))
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
	return func(_ int, r proto.Request, b []byte) []byte {
		switch {
		case r.Type == proto.CmdRead && structured:
			return dataChunk(b, proto.ReplyFlagDone, r.Cookie, r.Offset, int(r.Length))
		case r.Type == proto.CmdRead:
			return append(proto.PutSimpleReply(b, 0, r.Cookie), pattern[r.Offset:r.Offset+uint64(r.Length)]...)
		case r.Type == proto.CmdBlockStatus:
			return statusChunk(b, proto.ReplyFlagDone, r.Cookie, r.Length, 0)
		}
		return proto.PutSimpleReply(b, 0, r.Cookie)
	}
}
