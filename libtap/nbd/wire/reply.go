package wire

// Magics of the replies.
const (
	SimpleMagic     uint32 = 0x67446698
	StructuredMagic uint32 = 0x668e33ef // a structured reply's chunk
)

// Chunk flags and types; every error type has ReplyErrorBit set.
const (
	ReplyFlagDone uint16 = 1 << 0

	ReplyNone        uint16 = 0
	ReplyOffsetData  uint16 = 1
	ReplyOffsetHole  uint16 = 2
	ReplyBlockStatus uint16 = 5
	ReplyErrorBit    uint16 = 1 << 15
	ReplyError       uint16 = ReplyErrorBit + 1
	ReplyErrorOffset uint16 = ReplyErrorBit + 2
)

// Sizes of the reply headers, and of the fixed parts of chunk payloads.
const (
	SimpleReplySize  = 16
	ChunkHeaderSize  = 20
	OffsetSize       = 8 // OFFSET_DATA's before its data, ERROR_OFFSET's after the message
	HoleSize         = 12
	ErrorPayloadSize = 6
)

// SimpleReply is a simple reply; a successful read's data follows it.
type SimpleReply struct {
	Errno  uint32 // an NBD error: see ErrorCode
	Cookie uint64
}

// Append appends r's encoding to b.
func (r SimpleReply) Append(b []byte) []byte {
	b = be.AppendUint32(b, SimpleMagic)
	b = be.AppendUint32(b, r.Errno)
	return be.AppendUint64(b, r.Cookie)
}

// Parse decodes b into r and reports whether the magic was right.
func (r *SimpleReply) Parse(b *[SimpleReplySize]byte) bool {
	r.Errno = be.Uint32(b[4:])
	r.Cookie = be.Uint64(b[8:])
	return be.Uint32(b[0:]) == SimpleMagic
}

// ChunkHeader starts each chunk of a structured reply; Length bytes of
// payload follow it.
type ChunkHeader struct {
	Flags  uint16
	Type   uint16
	Cookie uint64
	Length uint32
}

// Append appends h's encoding to b.
func (h ChunkHeader) Append(b []byte) []byte {
	b = be.AppendUint32(b, StructuredMagic)
	b = be.AppendUint16(b, h.Flags)
	b = be.AppendUint16(b, h.Type)
	b = be.AppendUint64(b, h.Cookie)
	return be.AppendUint32(b, h.Length)
}

// Parse decodes b into h and reports whether the magic was right.
func (h *ChunkHeader) Parse(b *[ChunkHeaderSize]byte) bool {
	h.Flags = be.Uint16(b[4:])
	h.Type = be.Uint16(b[6:])
	h.Cookie = be.Uint64(b[8:])
	h.Length = be.Uint32(b[16:])
	return be.Uint32(b[0:]) == StructuredMagic
}

// Hole is an OFFSET_HOLE chunk's payload: Length bytes at Offset read as
// zeros.
type Hole struct {
	Offset uint64
	Length uint32
}

// Append appends h's encoding to b.
func (h Hole) Append(b []byte) []byte {
	b = be.AppendUint64(b, h.Offset)
	return be.AppendUint32(b, h.Length)
}

// Parse decodes b into h.
func (h *Hole) Parse(b *[HoleSize]byte) {
	h.Offset = be.Uint64(b[0:])
	h.Length = be.Uint32(b[8:])
}

// ErrorPayload starts an error chunk's payload: the error, and the length
// of the message that follows (for ReplyErrorOffset, an offset follows
// the message).
type ErrorPayload struct {
	Errno      uint32 // an NBD error: see ErrorCode
	MessageLen uint16
}

// Append appends p's encoding to b.
func (p ErrorPayload) Append(b []byte) []byte {
	b = be.AppendUint32(b, p.Errno)
	return be.AppendUint16(b, p.MessageLen)
}

// Parse decodes b into p.
func (p *ErrorPayload) Parse(b *[ErrorPayloadSize]byte) {
	p.Errno = be.Uint32(b[0:])
	p.MessageLen = be.Uint16(b[4:])
}
