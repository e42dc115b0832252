package nbd

import (
	"encoding/binary"
	"syscall"
)

// Wire constants of the NBD protocol (NetworkBlockDevice/nbd doc/proto.md).
// They are part of the protocol: never change them. Everything on the
// wire is big-endian.

// Magic numbers.
const (
	InitMagic       uint64 = 0x4e42444d41474943 // "NBDMAGIC", the server's greeting
	OptMagic        uint64 = 0x49484156454f5054 // "IHAVEOPT", before each option
	OptReplyMagic   uint64 = 0x3e889045565a9    // before each option reply
	RequestMagic    uint32 = 0x25609513
	SimpleMagic     uint32 = 0x67446698 // simple reply
	StructuredMagic uint32 = 0x668e33ef // structured reply chunk
)

// Handshake flags (server) and client flags.
const (
	FlagFixedNewstyle   uint16 = 1 << 0
	FlagNoZeroes        uint16 = 1 << 1
	ClientFixedNewstyle uint32 = 1 << 0
	ClientNoZeroes      uint32 = 1 << 1
)

// Transmission flags.
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

// Option replies; errors have bit 31 set.
const (
	RepAck         uint32 = 1
	RepServer      uint32 = 2
	RepInfo        uint32 = 3
	RepMetaContext uint32 = 4

	RepErrUnsup   uint32 = 1<<31 + 1
	RepErrPolicy  uint32 = 1<<31 + 2
	RepErrInvalid uint32 = 1<<31 + 3
	RepErrTLSReqd uint32 = 1<<31 + 5
	RepErrUnknown uint32 = 1<<31 + 6
	RepErrTooBig  uint32 = 1<<31 + 9
)

// Info types of NBD_OPT_INFO and NBD_OPT_GO.
const (
	InfoExport    uint16 = 0
	InfoName      uint16 = 1
	InfoBlockSize uint16 = 3
)

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

// Structured reply chunks.
const (
	ReplyFlagDone uint16 = 1 << 0

	ReplyNone        uint16 = 0
	ReplyOffsetData  uint16 = 1
	ReplyOffsetHole  uint16 = 2
	ReplyBlockStatus uint16 = 5
	ReplyError       uint16 = 1<<15 + 1
	ReplyErrorOffset uint16 = 1<<15 + 2
)

// The base:allocation metadata context and its extent flags.
const (
	MetaBaseAllocation        = "base:allocation"
	StateHole          uint32 = 1 << 0
	StateZero          uint32 = 1 << 1
)

// Block size constraints this project advertises: 512 is the sector every
// driver addresses; 32 MiB the largest request a ring slot carries.
const (
	MinBlock       = 512
	PreferredBlock = 4096
	MaxBlock       = 32 << 20
)

// Sizes of the fixed headers.
const (
	RequestSize      = 28
	SimpleReplySize  = 16
	ChunkHeaderSize  = 20
	OptionHeaderSize = 16
	OptReplyHeader   = 20
)

var be = binary.BigEndian

// Request is a transmission request header.
type Request struct {
	Flags  uint16
	Type   uint16
	Cookie uint64
	Offset uint64
	Length uint32
}

// Put encodes r into b.
func (r *Request) Put(b *[RequestSize]byte) {
	be.PutUint32(b[0:], RequestMagic)
	be.PutUint16(b[4:], r.Flags)
	be.PutUint16(b[6:], r.Type)
	be.PutUint64(b[8:], r.Cookie)
	be.PutUint64(b[16:], r.Offset)
	be.PutUint32(b[24:], r.Length)
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

// PutSimpleReply encodes a simple reply header.
func PutSimpleReply(b []byte, errno uint32, cookie uint64) []byte {
	b = be.AppendUint32(b, SimpleMagic)
	b = be.AppendUint32(b, errno)
	return be.AppendUint64(b, cookie)
}

// PutChunk encodes a structured reply chunk header.
func PutChunk(b []byte, flags, typ uint16, cookie uint64, length uint32) []byte {
	b = be.AppendUint32(b, StructuredMagic)
	b = be.AppendUint16(b, flags)
	b = be.AppendUint16(b, typ)
	b = be.AppendUint64(b, cookie)
	return be.AppendUint32(b, length)
}

// Chunk is a decoded structured reply chunk header.
type Chunk struct {
	Flags, Type uint16
	Cookie      uint64
	Length      uint32
}

// PutOption encodes an option request header.
func PutOption(b []byte, opt uint32, length uint32) []byte {
	b = be.AppendUint64(b, OptMagic)
	b = be.AppendUint32(b, opt)
	return be.AppendUint32(b, length)
}

// PutOptReply encodes an option reply header.
func PutOptReply(b []byte, opt, typ uint32, length uint32) []byte {
	b = be.AppendUint64(b, OptReplyMagic)
	b = be.AppendUint32(b, opt)
	b = be.AppendUint32(b, typ)
	return be.AppendUint32(b, length)
}

// NBD error values: the protocol fixes them, equal to Linux's errnos.
const (
	EPERM     uint32 = 1
	EIO       uint32 = 5
	ENOMEM    uint32 = 12
	EINVAL    uint32 = 22
	ENOSPC    uint32 = 28
	EOVERFLOW uint32 = 75
	ENOTSUP   uint32 = 95
	ESHUTDOWN uint32 = 108
)

// ErrorCode is the NBD error a server reports for errno; errnos the
// protocol has no value for become EIO.
func ErrorCode(errno syscall.Errno) uint32 {
	switch errno {
	case 0:
		return 0
	case syscall.EPERM, syscall.EROFS, syscall.EACCES:
		return EPERM
	case syscall.ENOMEM:
		return ENOMEM
	case syscall.EINVAL:
		return EINVAL
	case syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG:
		return ENOSPC
	case syscall.EOVERFLOW:
		return EOVERFLOW
	case syscall.EOPNOTSUPP:
		return ENOTSUP
	case syscall.ESHUTDOWN:
		return ESHUTDOWN
	}
	return EIO
}

// Errno is the errno a client reports for an NBD error; a client treats
// values it does not know as EINVAL, as the protocol asks.
func Errno(code uint32) syscall.Errno {
	switch code {
	case EPERM:
		return syscall.EPERM
	case EIO:
		return syscall.EIO
	case ENOMEM:
		return syscall.ENOMEM
	case EINVAL:
		return syscall.EINVAL
	case ENOSPC:
		return syscall.ENOSPC
	case EOVERFLOW:
		return syscall.EOVERFLOW
	case ENOTSUP:
		return syscall.EOPNOTSUPP
	case ESHUTDOWN:
		return syscall.ESHUTDOWN
	}
	return syscall.EINVAL
}
