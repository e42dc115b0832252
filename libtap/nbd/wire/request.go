package wire

// RequestMagic starts every request.
const RequestMagic uint32 = 0x25609513

// Commands.
const (
	CmdRead        uint16 = 0
	CmdWrite       uint16 = 1
	CmdDisc        uint16 = 2
	CmdFlush       uint16 = 3
	CmdTrim        uint16 = 4
	CmdCache       uint16 = 5
	CmdWriteZeroes uint16 = 6
	CmdBlockStatus uint16 = 7
)

// Command flags.
const (
	CmdFlagFUA      uint16 = 1 << 0
	CmdFlagNoHole   uint16 = 1 << 1
	CmdFlagDF       uint16 = 1 << 2
	CmdFlagReqOne   uint16 = 1 << 3
	CmdFlagFastZero uint16 = 1 << 4
)

// RequestSize is the size of a request header.
const RequestSize = 28

// Request is a transmission request header; a write's Length bytes of
// data follow it.
type Request struct {
	Flags  uint16
	Type   uint16
	Cookie uint64
	Offset uint64
	Length uint32
}

// Append appends r's encoding to b.
func (r Request) Append(b []byte) []byte {
	b = be.AppendUint32(b, RequestMagic)
	b = be.AppendUint16(b, r.Flags)
	b = be.AppendUint16(b, r.Type)
	b = be.AppendUint64(b, r.Cookie)
	b = be.AppendUint64(b, r.Offset)
	return be.AppendUint32(b, r.Length)
}

// Parse decodes b into r and reports whether the magic was right.
func (r *Request) Parse(b *[RequestSize]byte) bool {
	r.Flags = be.Uint16(b[4:])
	r.Type = be.Uint16(b[6:])
	r.Cookie = be.Uint64(b[8:])
	r.Offset = be.Uint64(b[16:])
	r.Length = be.Uint32(b[24:])
	return be.Uint32(b[0:]) == RequestMagic
}
