package nbd_test

import (
	"io"

	"gotap.dev/libtap/nbd/wire"
)

// maxReplyData bounds an option reply's data: an error message may quote
// an export name a client sent, itself bounded by the server.
const maxReplyData = 64<<10 + 256

// optionsIn splits a negotiation the way the protocol does: the client's
// flags, then options, each a header and its data, up to a bad magic,
// the end of the data, or NBD_OPT_EXPORT_NAME or NBD_OPT_ABORT (after
// which the server reads no option). What follows an NBD_OPT_GO may be
// requests instead: the server's reply tells.
func optionsIn(b []byte) (flags uint32, opts []wire.OptionHeader) {
	if len(b) < 4 {
		return 0, nil
	}
	flags, b = be.Uint32(b), b[4:]
	var h wire.OptionHeader
	for len(b) >= wire.OptionHeaderSize && h.Parse((*[wire.OptionHeaderSize]byte)(b)) {
		b = b[wire.OptionHeaderSize:]
		if uint64(len(b)) < uint64(h.Length) {
			break
		}
		b = b[h.Length:]
		opts = append(opts, h)
		if h.Opt == wire.OptExportName || h.Opt == wire.OptAbort {
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
	if len(data) < 4 || flags&^(wire.ClientFixedNewstyle|wire.ClientNoZeroes) != 0 {
		return false // the server hangs up
	}
	for i, o := range opts {
		if o.Opt == wire.OptExportName {
			s.exportNameReply(flags&wire.ClientNoZeroes != 0)
			return true
		}
		typ := s.optionReplies(o.Opt)
		switch {
		case o.Opt == wire.OptAbort && typ != wire.RepAck:
			s.t.Fatalf("option %d, NBD_OPT_ABORT: reply %#x; want NBD_REP_ACK", i, typ)
		case o.Opt == wire.OptAbort:
			return false
		case o.Opt == wire.OptGo && typ == wire.RepAck:
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
		h := s.optionReply()
		s.read(int(h.Length))
		if h.Opt == wire.OptGo && h.Type == wire.RepAck {
			return
		} else if h.Type&wire.RepErrorBit != 0 {
			s.t.Fatalf("honest negotiation: option %d refused (%#x)", h.Opt, h.Type)
		}
	}
}

func (s *session) greeting() {
	s.t.Helper()
	b := s.read(wire.GreetingSize)
	var g wire.Greeting
	if !g.Parse((*[wire.GreetingSize]byte)(b)) || g.Flags&wire.FlagFixedNewstyle == 0 {
		s.t.Fatalf("greeting % x", b)
	}
}

// optionReply reads an option reply's header, which must have its magic.
func (s *session) optionReply() wire.OptionReply {
	s.t.Helper()
	b := s.read(wire.OptionReplySize)
	var h wire.OptionReply
	if !h.Parse((*[wire.OptionReplySize]byte)(b)) {
		s.t.Fatalf("option reply header % x", b)
	}
	return h
}

// optionReplies reads the replies to one option: each must echo it, and
// every one but the last carry information (server, info, context); the
// last is an acknowledgement or an error, whose type it returns.
func (s *session) optionReplies(opt uint32) uint32 {
	s.t.Helper()
	for {
		h := s.optionReply()
		switch {
		case h.Opt != opt:
			s.t.Fatalf("option %d: reply for option %d", opt, h.Opt)
		case h.Length > maxReplyData:
			s.t.Fatalf("option %d: reply of %d bytes", opt, h.Length)
		}
		s.read(int(h.Length))
		switch typ := h.Type; {
		case typ == wire.RepAck || typ&wire.RepErrorBit != 0:
			return typ
		case typ != wire.RepServer && typ != wire.RepInfo && typ != wire.RepMetaContext:
			s.t.Fatalf("option %d: reply type %#x", opt, typ)
		}
	}
}

// exportNameReply reads NBD_OPT_EXPORT_NAME's answer: size and flags.
func (s *session) exportNameReply(noZeroes bool) {
	s.t.Helper()
	var e wire.Export
	e.Parse((*[wire.ExportSize]byte)(s.read(wire.ExportSize)))
	if e.Size != fuzzSize {
		s.t.Fatalf("NBD_OPT_EXPORT_NAME: size %d; want %d", e.Size, fuzzSize)
	}
	if !noZeroes {
		s.read(wire.ExportPadding)
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
