package nbd_test

import (
	"gotap.dev/libtap/nbd/wire"
)

// requestsIn splits a transmission the way the protocol does: request
// headers, a write's data after its header. It stops where the server
// stops reading: a bad magic, NBD_CMD_DISC, or the end of the data
// (a request cut short gets no reply).
func requestsIn(b []byte) []wire.Request {
	var out []wire.Request
	for len(b) >= wire.RequestSize {
		var r wire.Request
		if !r.Parse((*[wire.RequestSize]byte)(b)) || r.Type == wire.CmdDisc {
			break
		}
		b = b[wire.RequestSize:]
		if r.Type == wire.CmdWrite {
			if uint64(len(b)) < uint64(r.Length) {
				break
			}
			b = b[r.Length:]
		}
		out = append(out, r)
	}
	return out
}

// allowed reports whether the server may carry out r: a command it
// offers, within the disk (a flush has no range).
func allowed(r wire.Request, structured bool) bool {
	switch r.Type {
	case wire.CmdFlush:
		return true
	case wire.CmdBlockStatus:
		if !structured {
			return false
		}
	case wire.CmdRead, wire.CmdWrite, wire.CmdTrim, wire.CmdCache, wire.CmdWriteZeroes:
	default:
		return false
	}
	n := uint64(r.Length)
	return n > 0 && r.Offset <= fuzzSize && n <= fuzzSize-r.Offset
}

// checkReply reads the reply to r and judges it: r's cookie, the reply
// form negotiated, and success only where allowed.
func (s *session) checkReply(r wire.Request, structured bool) {
	s.t.Helper()
	m, err := s.br.Peek(4)
	if err != nil {
		s.t.Fatalf("request %+v: no reply: %v", r, err)
	}
	switch m := be.Uint32(m); {
	case m == wire.SimpleMagic:
		var rep wire.SimpleReply
		rep.Parse((*[wire.SimpleReplySize]byte)(s.read(wire.SimpleReplySize)))
		s.checkCookie(r, rep.Cookie)
		if structured && r.Type == wire.CmdRead {
			s.t.Fatalf("request %+v: a simple reply to a read after structured replies were negotiated", r)
		}
		if rep.Errno == 0 {
			s.succeeded(r, structured)
			if r.Type == wire.CmdRead {
				s.read(int(r.Length))
			}
		}
	case m == wire.StructuredMagic && structured:
		if s.chunks(r) {
			s.succeeded(r, structured)
		}
	default:
		s.t.Fatalf("request %+v: reply magic %#x (structured %v)", r, m, structured)
	}
}

// chunks reads a structured reply and reports whether
// it succeeded. The server answers in one chunk: a read's data covers the
// request; block status describes no more than it; an error carries an
// errno.
func (s *session) chunks(r wire.Request) (ok bool) {
	s.t.Helper()
	var h wire.ChunkHeader
	h.Parse((*[wire.ChunkHeaderSize]byte)(s.read(wire.ChunkHeaderSize)))
	s.checkCookie(r, h.Cookie)
	typ, n := h.Type, h.Length
	if h.Flags&wire.ReplyFlagDone == 0 {
		s.t.Fatalf("request %+v: chunk type %d not the last: this server sends one", r, typ)
	}
	p := s.read(int(n))
	switch {
	case typ == wire.ReplyError && n >= wire.ErrorPayloadSize && be.Uint32(p) != 0:
		return false
	case typ == wire.ReplyNone && n == 0 && r.Type != wire.CmdRead && r.Type != wire.CmdBlockStatus:
	case typ == wire.ReplyOffsetData && r.Type == wire.CmdRead:
		if n != wire.OffsetSize+r.Length || be.Uint64(p) != r.Offset {
			s.t.Fatalf("request %+v: data chunk of %d bytes at %d", r, n-wire.OffsetSize, be.Uint64(p))
		}
	case typ == wire.ReplyBlockStatus && r.Type == wire.CmdBlockStatus:
		s.checkDescriptors(r, p)
	default:
		s.t.Fatalf("request %+v: chunk type %d of %d bytes", r, typ, n)
	}
	return true
}

// checkDescriptors judges a base:allocation payload: our context's id,
// then at least one descriptor (exactly one if asked), none empty, all
// together no longer than the request.
func (s *session) checkDescriptors(r wire.Request, p []byte) {
	s.t.Helper()
	const allocationID = 1 // what the server's NBD_OPT_SET_META_CONTEXT said
	if len(p) < wire.ContextIDSize+wire.DescriptorSize || (len(p)-wire.ContextIDSize)%wire.DescriptorSize != 0 || be.Uint32(p) != allocationID {
		s.t.Fatalf("request %+v: block status payload % x", r, p)
	}
	var sum uint64
	count := 0
	for b := p[wire.ContextIDSize:]; len(b) > 0; b = b[wire.DescriptorSize:] {
		var d wire.Descriptor
		d.Parse((*[wire.DescriptorSize]byte)(b))
		if d.Length == 0 {
			s.t.Fatalf("request %+v: empty descriptor", r)
		}
		sum += uint64(d.Length)
		count++
	}
	if sum > uint64(r.Length) || (r.Flags&wire.CmdFlagReqOne != 0 && count != 1) {
		s.t.Fatalf("request %+v: %d descriptors of %d bytes in all", r, count, sum)
	}
}

func (s *session) checkCookie(r wire.Request, cookie uint64) {
	s.t.Helper()
	if cookie != r.Cookie {
		s.t.Fatalf("request %+v: reply with cookie %d, out of order or lost", r, cookie)
	}
}

// succeeded fails the test unless the server could carry out r.
func (s *session) succeeded(r wire.Request, structured bool) {
	s.t.Helper()
	if !allowed(r, structured) {
		s.t.Fatalf("request %+v (structured %v) succeeded: outside the %d-byte disk, or not a command the server offers", r, structured, fuzzSize)
	}
}
