package nbd_test

import (
	"gotap.dev/libtap/nbd"
)

// requestsIn splits a transmission the way the protocol does: request
// headers, a write's data after its header. It stops where the server
// stops reading: a bad magic, NBD_CMD_DISC, or the end of the data
// (a request cut short gets no reply).
func requestsIn(b []byte) []nbd.Request {
	var out []nbd.Request
	for len(b) >= nbd.RequestSize {
		var r nbd.Request
		if !r.Parse((*[nbd.RequestSize]byte)(b)) || r.Type == nbd.CmdDisc {
			break
		}
		b = b[nbd.RequestSize:]
		if r.Type == nbd.CmdWrite {
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
func allowed(r nbd.Request, structured bool) bool {
	switch r.Type {
	case nbd.CmdFlush:
		return true
	case nbd.CmdBlockStatus:
		if !structured {
			return false
		}
	case nbd.CmdRead, nbd.CmdWrite, nbd.CmdTrim, nbd.CmdCache, nbd.CmdWriteZeroes:
	default:
		return false
	}
	n := uint64(r.Length)
	return n > 0 && r.Offset <= fuzzSize && n <= fuzzSize-r.Offset
}

// checkReply reads the reply to r and judges it: r's cookie, the reply
// form negotiated, and success only where allowed.
func (s *session) checkReply(r nbd.Request, structured bool) {
	s.t.Helper()
	m := be.Uint32(s.read(4))
	switch {
	case m == nbd.SimpleMagic:
		h := s.read(12)
		s.checkCookie(r, be.Uint64(h[4:]))
		if structured && r.Type == nbd.CmdRead {
			s.t.Fatalf("request %+v: a simple reply to a read after structured replies were negotiated", r)
		}
		if be.Uint32(h) == 0 {
			s.succeeded(r, structured)
			if r.Type == nbd.CmdRead {
				s.read(int(r.Length))
			}
		}
	case m == nbd.StructuredMagic && structured:
		if s.chunks(r) {
			s.succeeded(r, structured)
		}
	default:
		s.t.Fatalf("request %+v: reply magic %#x (structured %v)", r, m, structured)
	}
}

// chunks reads a structured reply (its magic read) and reports whether
// it succeeded. The server answers in one chunk: a read's data covers the
// request; block status describes no more than it; an error carries an
// errno.
func (s *session) chunks(r nbd.Request) (ok bool) {
	s.t.Helper()
	h := s.read(nbd.ChunkHeaderSize - 4)
	flags, typ, n := be.Uint16(h), be.Uint16(h[2:]), be.Uint32(h[12:])
	s.checkCookie(r, be.Uint64(h[4:]))
	if flags&nbd.ReplyFlagDone == 0 {
		s.t.Fatalf("request %+v: chunk type %d not the last: this server sends one", r, typ)
	}
	p := s.read(int(n))
	switch {
	case typ == nbd.ReplyError && n >= 6 && be.Uint32(p) != 0:
		return false
	case typ == nbd.ReplyNone && n == 0 && r.Type != nbd.CmdRead && r.Type != nbd.CmdBlockStatus:
	case typ == nbd.ReplyOffsetData && r.Type == nbd.CmdRead:
		if n != 8+r.Length || be.Uint64(p) != r.Offset {
			s.t.Fatalf("request %+v: data chunk of %d bytes at %d", r, n-8, be.Uint64(p))
		}
	case typ == nbd.ReplyBlockStatus && r.Type == nbd.CmdBlockStatus:
		s.checkDescriptors(r, p)
	default:
		s.t.Fatalf("request %+v: chunk type %d of %d bytes", r, typ, n)
	}
	return true
}

// checkDescriptors judges a base:allocation payload: our context's id,
// then at least one descriptor (exactly one if asked), none empty, all
// together no longer than the request.
func (s *session) checkDescriptors(r nbd.Request, p []byte) {
	s.t.Helper()
	const allocationID = 1 // what the server's NBD_OPT_SET_META_CONTEXT said
	if len(p) < 12 || (len(p)-4)%8 != 0 || be.Uint32(p) != allocationID {
		s.t.Fatalf("request %+v: block status payload % x", r, p)
	}
	var sum uint64
	count := 0
	for d := p[4:]; len(d) > 0; d = d[8:] {
		n := be.Uint32(d)
		if n == 0 {
			s.t.Fatalf("request %+v: empty descriptor", r)
		}
		sum += uint64(n)
		count++
	}
	if sum > uint64(r.Length) || (r.Flags&nbd.CmdFlagReqOne != 0 && count != 1) {
		s.t.Fatalf("request %+v: %d descriptors of %d bytes in all", r, count, sum)
	}
}

func (s *session) checkCookie(r nbd.Request, cookie uint64) {
	s.t.Helper()
	if cookie != r.Cookie {
		s.t.Fatalf("request %+v: reply with cookie %d, out of order or lost", r, cookie)
	}
}

// succeeded fails the test unless the server could carry out r.
func (s *session) succeeded(r nbd.Request, structured bool) {
	s.t.Helper()
	if !allowed(r, structured) {
		s.t.Fatalf("request %+v (structured %v) succeeded: outside the %d-byte disk, or not a command the server offers", r, structured, fuzzSize)
	}
}
