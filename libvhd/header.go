package libvhd

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf16"

	"github.com/google/uuid"
)

// Part of the format, never change.
const (
	HeaderSize    = 1024
	headerVersion = 0x00010000
	// disabledHeaderVersion marks an image vhd-update is converting: Open
	// refuses it until the update is finished or rolled back (update.go).
	disabledHeaderVersion = 0xFFFFFFFF
	DefaultBlockSize      = 2 << 20
	locatorCount          = 8

	// Block sizes accepted on open. The format only asks for a power of
	// two; the bounds keep a hostile header from demanding huge bitmaps.
	minBlockSize = SectorSize
	maxBlockSize = 256 << 20

	unallocated = 0xFFFFFFFF // BAT entry of a block not in the file

	// maxTableEntries bounds the BAT at 2 GiB, as QEMU does, whatever the
	// block size: beyond it a header is hostile, not merely large.
	maxTableEntries = 1 << 29
)

var headerCookie = [8]byte{'c', 'x', 's', 'p', 'a', 'r', 's', 'e'}

// Header is the dynamic disk header of dynamic and differencing images.
//
//	0x000 cookie "cxsparse"   0x008 next offset (all ones)
//	0x010 BAT offset          0x018 version        0x01C max table entries
//	0x020 block size          0x024 checksum       0x028 parent UUID
//	0x038 parent timestamp    0x03C reserved       0x040 parent name (UTF-16BE, 512 B)
//	0x240 8 parent locators of 24 bytes            0x300 reserved (256 B)
type Header struct {
	Cookie          [8]byte
	NextOffset      uint64
	TableOffset     uint64
	Version         uint32
	MaxTableEntries uint32
	BlockSize       uint32
	Checksum        uint32
	ParentUUID      uuid.UUID
	ParentTimestamp uint32
	Reserved1       uint32
	ParentName      [512]byte // UTF-16BE, NUL padded
	Locators        [locatorCount]Locator
	Reserved2       [256]byte
}

// Locator is one parent locator entry of the dynamic header.
type Locator struct {
	Code       uint32 // platform code, e.g. LocatorMacX
	DataSpace  uint32 // sectors if < 512, else bytes (what real producers write)
	DataLen    uint32 // bytes
	Reserved   uint32
	DataOffset uint64 // absolute file offset
}

// Platform codes of parent locators.
const (
	LocatorNone = 0
	LocatorWi2r = 0x57693272 // deprecated relative
	LocatorWi2k = 0x5769326B // deprecated absolute
	LocatorW2ru = 0x57327275 // relative Windows path, UTF-16LE
	LocatorW2ku = 0x57326B75 // absolute Windows path, UTF-16LE
	LocatorMac  = 0x4D616320 // Mac alias blob
	LocatorMacX = 0x4D616358 // file URL, UTF-8
)

// SpaceBytes is the locator's reserved space in bytes.
func (l Locator) SpaceBytes() int64 {
	if l.DataSpace < SectorSize {
		return int64(l.DataSpace) * SectorSize
	}
	return int64(l.DataSpace)
}

// MarshalBinary encodes the header, computing its checksum.
func (h *Header) MarshalBinary() ([]byte, error) {
	b := make([]byte, HeaderSize)
	h.put(b)
	return b, nil
}

func (h *Header) put(b []byte) {
	be := binary.BigEndian
	copy(b[0x000:], h.Cookie[:])
	be.PutUint64(b[0x008:], h.NextOffset)
	be.PutUint64(b[0x010:], h.TableOffset)
	be.PutUint32(b[0x018:], h.Version)
	be.PutUint32(b[0x01C:], h.MaxTableEntries)
	be.PutUint32(b[0x020:], h.BlockSize)
	copy(b[0x028:], h.ParentUUID[:])
	be.PutUint32(b[0x038:], h.ParentTimestamp)
	be.PutUint32(b[0x03C:], h.Reserved1)
	copy(b[0x040:], h.ParentName[:])
	for i, l := range h.Locators {
		o := 0x240 + 24*i
		be.PutUint32(b[o:], l.Code)
		be.PutUint32(b[o+4:], l.DataSpace)
		be.PutUint32(b[o+8:], l.DataLen)
		be.PutUint32(b[o+12:], l.Reserved)
		be.PutUint64(b[o+16:], l.DataOffset)
	}
	copy(b[0x300:HeaderSize], h.Reserved2[:])
	h.Checksum = checksum(b[:HeaderSize], 0x024)
	be.PutUint32(b[0x024:], h.Checksum)
}

// ParseHeader decodes a dynamic header and verifies cookie and checksum.
// Field values are checked by Validate.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, formatErr("header", len(b), ErrTruncated)
	}
	be := binary.BigEndian
	copy(h.Cookie[:], b[0x000:])
	h.NextOffset = be.Uint64(b[0x008:])
	h.TableOffset = be.Uint64(b[0x010:])
	h.Version = be.Uint32(b[0x018:])
	h.MaxTableEntries = be.Uint32(b[0x01C:])
	h.BlockSize = be.Uint32(b[0x020:])
	h.Checksum = be.Uint32(b[0x024:])
	copy(h.ParentUUID[:], b[0x028:])
	h.ParentTimestamp = be.Uint32(b[0x038:])
	h.Reserved1 = be.Uint32(b[0x03C:])
	copy(h.ParentName[:], b[0x040:])
	for i := range h.Locators {
		o := 0x240 + 24*i
		h.Locators[i] = Locator{
			Code:       be.Uint32(b[o:]),
			DataSpace:  be.Uint32(b[o+4:]),
			DataLen:    be.Uint32(b[o+8:]),
			Reserved:   be.Uint32(b[o+12:]),
			DataOffset: be.Uint64(b[o+16:]),
		}
	}
	copy(h.Reserved2[:], b[0x300:HeaderSize])

	if h.Cookie != headerCookie {
		return h, formatErr("header.cookie", printable(h.Cookie[:]), ErrHeaderCookie)
	}
	if sum := checksum(b[:HeaderSize], 0x024); sum != h.Checksum {
		return h, formatErr("header.checksum", hexValue(h.Checksum), ErrHeaderChecksum)
	}
	return h, nil
}

// Validate checks the header against the disk it describes: version,
// next offset, block size and a table large enough for diskSize yet not
// absurdly larger than a 2040 GiB disk needs.
func (h *Header) Validate(diskSize uint64) error {
	if h.Version == disabledHeaderVersion {
		return formatErr("header.version", hexValue(h.Version), ErrPoisoned)
	}
	if h.Version != headerVersion {
		return formatErr("header.version", hexValue(h.Version), ErrHeaderVersion)
	}
	if h.NextOffset != ^uint64(0) {
		return formatErr("header.next_offset", h.NextOffset, ErrNextOffset)
	}
	bs := h.BlockSize
	if bits.OnesCount32(bs) != 1 || bs < minBlockSize || bs > maxBlockSize {
		return formatErr("header.block_size", bs, ErrBlockSize)
	}
	need := (diskSize + uint64(bs) - 1) / uint64(bs)
	limit := min((uint64(MaxDiskSize)+uint64(bs)-1)/uint64(bs), maxTableEntries)
	if uint64(h.MaxTableEntries) < need || uint64(h.MaxTableEntries) > limit {
		return formatErr("header.max_table_entries", h.MaxTableEntries, ErrTableSize)
	}
	return nil
}

// ParentNameString decodes the UTF-16BE parent name.
func (h *Header) ParentNameString() string {
	u := make([]uint16, 0, len(h.ParentName)/2)
	for i := 0; i+1 < len(h.ParentName); i += 2 {
		c := binary.BigEndian.Uint16(h.ParentName[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// SetParentName stores name as UTF-16BE, truncated to the field.
func (h *Header) SetParentName(name string) {
	h.ParentName = [512]byte{}
	for i, c := range utf16.Encode([]rune(name)) {
		if 2*i+1 >= len(h.ParentName) {
			break
		}
		binary.BigEndian.PutUint16(h.ParentName[2*i:], c)
	}
}

// bitmapSize is the size of one block's sector bitmap, padded to a sector.
func bitmapSize(blockSize uint32) int64 {
	return roundUp((int64(blockSize)/SectorSize+7)/8, SectorSize)
}

func roundUp(n, to int64) int64 { return (n + to - 1) / to * to }
