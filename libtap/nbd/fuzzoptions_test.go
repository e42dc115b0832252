package nbd_test

import (
	"io"

	"gotap.dev/libtap/nbd"
)

// maxReplyData bounds an option reply's data: an error message may quote
// an export name a client sent, itself bounded by the server.
const maxReplyData = 64<<10 + 256

// clientOption is one whole option a client sent.
type clientOption struct{ opt, n uint32 }

// optionsIn splits a negotiation the way the protocol does: the client's
// flags, then options, each a header and its data, up to a bad magic,
// the end of the data, or NBD_OPT_EXPORT_NAME or NBD_OPT_ABORT (after
// which the server reads no option). What follows an NBD_OPT_GO may be
// requests instead: the server's reply tells.
func optionsIn(b []byte) (flags uint32, opts []clientOption) {
	if len(b) < 4 {
		return 0, nil
	}
	flags, b = be.Uint32(b), b[4:]
	for len(b) >= nbd.OptionHeaderSize && be.Uint64(b) == nbd.OptMagic {
		o := clientOption{be.Uint32(b[8:]), be.Uint32(b[12:])}
		b = b[nbd.OptionHeaderSize:]
		if uint64(len(b)) < uint64(o.n) {
			break
		}
		b = b[o.n:]
		opts = append(opts, o)
		if o.opt == nbd.OptExportName || o.opt == nbd.OptAbort {
			break
		}
	}
	return flags, opts
}

// checkNegotiation reads and judges the server's side of the
// negotiation data holds; true when transmission started.
func (s *session) checkNegotiation(data []byte) bool {
	s.t.Helper()
	s.greeting()
	flags, opts := optionsIn(data)
	if len(data) < 4 || flags&^(nbd.ClientFixedNewstyle|nbd.ClientNoZeroes) != 0 {
		return false // the server hangs up
	}
	for i, o := range opts {
		if o.opt == nbd.OptExportName {
			s.exportNameReply(flags&nbd.ClientNoZeroes != 0)
			return true
		}
		typ := s.optionReplies(o.opt)
		switch {
		case o.opt == nbd.OptAbort && typ != nbd.RepAck:
			s.t.Fatalf("option %d, NBD_OPT_ABORT: reply %#x; want NBD_REP_ACK", i, typ)
		case o.opt == nbd.OptAbort:
			return false
		case o.opt == nbd.OptGo && typ == nbd.RepAck:
			return true
		}
	}
	return false
}

// skipNegotiation reads the replies to an honest negotiation, which must
// end with NBD_OPT_GO acknowledged.
func (s *session) skipNegotiation() {
	s.t.Helper()
	s.greeting()
	for {
		h := s.read(nbd.OptReplyHeader)
		s.read(int(be.Uint32(h[16:])))
		if opt, typ := be.Uint32(h[8:]), be.Uint32(h[12:]); opt == nbd.OptGo && typ == nbd.RepAck {
			return
		} else if typ&(1<<31) != 0 {
			s.t.Fatalf("honest negotiation: option %d refused (%#x)", opt, typ)
		}
	}
}

func (s *session) greeting() {
	s.t.Helper()
	g := s.read(18)
	if be.Uint64(g) != nbd.InitMagic || be.Uint64(g[8:]) != nbd.OptMagic || be.Uint16(g[16:])&nbd.FlagFixedNewstyle == 0 {
		s.t.Fatalf("greeting % x", g)
	}
}

// optionReplies reads the replies to one option: each must echo it, and
// every one but the last carry information (server, info, context); the
// last is an acknowledgement or an error, whose type it returns.
func (s *session) optionReplies(opt uint32) uint32 {
	s.t.Helper()
	for {
		h := s.read(nbd.OptReplyHeader)
		typ, n := be.Uint32(h[12:]), be.Uint32(h[16:])
		switch {
		case be.Uint64(h) != nbd.OptReplyMagic:
			s.t.Fatalf("option %d: reply header % x", opt, h)
		case be.Uint32(h[8:]) != opt:
			s.t.Fatalf("option %d: reply for option %d", opt, be.Uint32(h[8:]))
		case n > maxReplyData:
			s.t.Fatalf("option %d: reply of %d bytes", opt, n)
		}
		s.read(int(n))
		switch {
		case typ == nbd.RepAck || typ&(1<<31) != 0:
			return typ
		case typ != nbd.RepServer && typ != nbd.RepInfo && typ != nbd.RepMetaContext:
			s.t.Fatalf("option %d: reply type %#x", opt, typ)
		}
	}
}

// exportNameReply reads NBD_OPT_EXPORT_NAME's answer: size and flags.
func (s *session) exportNameReply(noZeroes bool) {
	s.t.Helper()
	n := 10
	if !noZeroes {
		n += 124
	}
	if b := s.read(n); be.Uint64(b) != fuzzSize {
		s.t.Fatalf("NBD_OPT_EXPORT_NAME: size %d; want %d", be.Uint64(b), fuzzSize)
	}
}

// read reads n bytes of the server's output, which must be there.
func (s *session) read(n int) []byte {
	s.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(s.br, b); err != nil {
		s.t.Fatalf("reading %d bytes from the server: %v", n, err)
	}
	return b
}
