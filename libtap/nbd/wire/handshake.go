package wire

// Magics of the negotiation.
const (
	InitMagic     uint64 = 0x4e42444d41474943 // "NBDMAGIC", the server's greeting
	OptMagic      uint64 = 0x49484156454f5054 // "IHAVEOPT", before each option
	OptReplyMagic uint64 = 0x3e889045565a9    // before each option reply
)

// Handshake flags: what the server's greeting offers.
const (
	FlagFixedNewstyle uint16 = 1 << 0
	FlagNoZeroes      uint16 = 1 << 1
)

// Client flags: the client's 4-byte answer to the greeting.
const (
	ClientFixedNewstyle uint32 = 1 << 0
	ClientNoZeroes      uint32 = 1 << 1
)

// Options.
const (
	OptExportName      uint32 = 1
	OptAbort           uint32 = 2
	OptList            uint32 = 3
	OptStartTLS        uint32 = 5
	OptInfo            uint32 = 6
	OptGo              uint32 = 7
	OptStructuredReply uint32 = 8
	OptListMetaContext uint32 = 9
	OptSetMetaContext  uint32 = 10
)

// Option reply types; every error type has RepErrorBit set.
const (
	RepAck         uint32 = 1
	RepServer      uint32 = 2
	RepInfo        uint32 = 3
	RepMetaContext uint32 = 4

	RepErrorBit   uint32 = 1 << 31
	RepErrUnsup   uint32 = RepErrorBit + 1
	RepErrPolicy  uint32 = RepErrorBit + 2
	RepErrInvalid uint32 = RepErrorBit + 3
	RepErrTLSReqd uint32 = RepErrorBit + 5
	RepErrUnknown uint32 = RepErrorBit + 6
	RepErrTooBig  uint32 = RepErrorBit + 9
)

// Sizes of the negotiation's fixed structures.
const (
	GreetingSize     = 18
	OptionHeaderSize = 16
	OptionReplySize  = 20
)

// Greeting is the server's first message: fixed newstyle's two magics,
// then the handshake flags.
type Greeting struct{ Flags uint16 }

// Append appends g's encoding to b.
func (g Greeting) Append(b []byte) []byte {
	b = be.AppendUint64(b, InitMagic)
	b = be.AppendUint64(b, OptMagic)
	return be.AppendUint16(b, g.Flags)
}

// Parse decodes b into g and reports whether both magics were right.
func (g *Greeting) Parse(b *[GreetingSize]byte) bool {
	g.Flags = be.Uint16(b[16:])
	return be.Uint64(b[0:]) == InitMagic && be.Uint64(b[8:]) == OptMagic
}

// OptionHeader starts each option a client sends; Length bytes of data
// follow it.
type OptionHeader struct {
	Opt    uint32
	Length uint32
}

// Append appends h's encoding to b.
func (h OptionHeader) Append(b []byte) []byte {
	b = be.AppendUint64(b, OptMagic)
	b = be.AppendUint32(b, h.Opt)
	return be.AppendUint32(b, h.Length)
}

// Parse decodes b into h and reports whether the magic was right.
func (h *OptionHeader) Parse(b *[OptionHeaderSize]byte) bool {
	h.Opt = be.Uint32(b[8:])
	h.Length = be.Uint32(b[12:])
	return be.Uint64(b[0:]) == OptMagic
}

// OptionReply starts each reply to an option; Length bytes of data
// follow it.
type OptionReply struct {
	Opt    uint32 // the option answered
	Type   uint32
	Length uint32
}

// Append appends r's encoding to b.
func (r OptionReply) Append(b []byte) []byte {
	b = be.AppendUint64(b, OptReplyMagic)
	b = be.AppendUint32(b, r.Opt)
	b = be.AppendUint32(b, r.Type)
	return be.AppendUint32(b, r.Length)
}

// Parse decodes b into r and reports whether the magic was right.
func (r *OptionReply) Parse(b *[OptionReplySize]byte) bool {
	r.Opt = be.Uint32(b[8:])
	r.Type = be.Uint32(b[12:])
	r.Length = be.Uint32(b[16:])
	return be.Uint64(b[0:]) == OptReplyMagic
}
