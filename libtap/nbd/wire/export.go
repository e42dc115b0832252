package wire

// Transmission flags: what an export allows, sent with its size.
const (
	FlagHasFlags        uint16 = 1 << 0
	FlagReadOnly        uint16 = 1 << 1
	FlagSendFlush       uint16 = 1 << 2
	FlagSendFUA         uint16 = 1 << 3
	FlagRotational      uint16 = 1 << 4
	FlagSendTrim        uint16 = 1 << 5
	FlagSendWriteZeroes uint16 = 1 << 6
	FlagSendDF          uint16 = 1 << 7
	FlagCanMultiConn    uint16 = 1 << 8
	FlagSendCache       uint16 = 1 << 10
	FlagSendFastZero    uint16 = 1 << 11
)

// Information types of NBD_OPT_INFO and NBD_OPT_GO.
const (
	InfoExport    uint16 = 0
	InfoName      uint16 = 1
	InfoBlockSize uint16 = 3
)

// The block sizes the protocol advises a client to keep to when a server
// states none: 512-byte alignment, 4 KiB preferred, reads and writes of
// at most 32 MiB.
const (
	MinBlock       = 512
	PreferredBlock = 4096
	MaxBlock       = 32 << 20
)

// ExportSize is the size of an Export's encoding, the reply to
// NBD_OPT_EXPORT_NAME; ExportPadding zeros follow it unless the client
// set ClientNoZeroes.
const (
	ExportSize    = 10
	ExportPadding = 124
)

// Export is what a client learns of an export: its size and its
// transmission flags.
type Export struct {
	Size  uint64
	Flags uint16
}

// Append appends e's encoding to b.
func (e Export) Append(b []byte) []byte {
	b = be.AppendUint64(b, e.Size)
	return be.AppendUint16(b, e.Flags)
}

// Parse decodes b into e.
func (e *Export) Parse(b *[ExportSize]byte) {
	e.Size = be.Uint64(b[0:])
	e.Flags = be.Uint16(b[8:])
}

// AppendInfo appends e as an NBD_REP_INFO's data: InfoExport, then e.
func (e Export) AppendInfo(b []byte) []byte {
	return e.Append(be.AppendUint16(b, InfoExport))
}

// ParseInfo decodes an NBD_REP_INFO's data into e and reports whether
// it was an InfoExport.
func (e *Export) ParseInfo(data []byte) bool {
	if len(data) < 2+ExportSize || be.Uint16(data) != InfoExport {
		return false
	}
	e.Parse((*[ExportSize]byte)(data[2:]))
	return true
}

// BlockSize is an export's block size constraints, in bytes.
type BlockSize struct {
	Min, Preferred, Max uint32
}

// AppendInfo appends s as an NBD_REP_INFO's data: InfoBlockSize, then
// the three sizes.
func (s BlockSize) AppendInfo(b []byte) []byte {
	b = be.AppendUint16(b, InfoBlockSize)
	b = be.AppendUint32(b, s.Min)
	b = be.AppendUint32(b, s.Preferred)
	return be.AppendUint32(b, s.Max)
}

// ParseInfo decodes an NBD_REP_INFO's data into s and reports whether
// it was an InfoBlockSize.
func (s *BlockSize) ParseInfo(data []byte) bool {
	if len(data) < 2+3*4 || be.Uint16(data) != InfoBlockSize {
		return false
	}
	s.Min, s.Preferred, s.Max = be.Uint32(data[2:]), be.Uint32(data[6:]), be.Uint32(data[10:])
	return true
}

// AppendExportQuery appends the data of NBD_OPT_INFO and NBD_OPT_GO: the
// export's name, then the information types asked for.
func AppendExportQuery(b []byte, name string, infos ...uint16) []byte {
	b = AppendString32(b, name)
	b = be.AppendUint16(b, uint16(len(infos)))
	for _, t := range infos {
		b = be.AppendUint16(b, t)
	}
	return b
}

// ParseExportQuery decodes the data of NBD_OPT_INFO or NBD_OPT_GO and
// reports whether it was well formed, with nothing after the types.
func ParseExportQuery(data []byte) (name string, infos []uint16, ok bool) {
	name, rest, ok := CutString32(data)
	if !ok || len(rest) < 2 || len(rest) != 2+2*int(be.Uint16(rest)) {
		return "", nil, false
	}
	for rest = rest[2:]; len(rest) > 0; rest = rest[2:] {
		infos = append(infos, be.Uint16(rest))
	}
	return name, infos, true
}
