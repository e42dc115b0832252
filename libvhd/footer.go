package libvhd

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/google/uuid"
)

// Part of the format, never change.
const (
	SectorSize = 512
	FooterSize = 512

	// MaxDiskSize is the largest disk a VHD can describe: 0xFF000000 sectors.
	MaxDiskSize = 0xFF000000 * SectorSize

	FeatureReserved  = 0x2 // must always be set
	FeatureTemporary = 0x1
	formatVersion    = 0x00010000
	fixedDataOffset  = ^uint64(0)
)

var (
	footerCookie = [8]byte{'c', 'o', 'n', 'e', 'c', 't', 'i', 'x'}
	poisonCookie = [8]byte{'v', '_', 'p', 'o', 'i', 's', 'o', 'n'}
)

// CreatorTap is blktap's creator application, which this package stamps.
var CreatorTap = [4]byte{'t', 'a', 'p', 0}

// TapCreatorVersion is what blktap (and this package) stamps; from
// 0x00010002 on, blktap expects a batmap.
const (
	TapCreatorVersion    = 0x00010003
	batmapCreatorVersion = 0x00010002
)

// DiskType is the footer's disk type.
type DiskType uint32

const (
	Fixed        DiskType = 2
	Dynamic      DiskType = 3
	Differencing DiskType = 4
)

func (t DiskType) String() string {
	switch t {
	case Fixed:
		return "fixed"
	case Dynamic:
		return "dynamic"
	case Differencing:
		return "differencing"
	}
	return "unknown"
}

// vhdEpoch is 2000-01-01 00:00:00 UTC, the zero of every VHD timestamp.
var vhdEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Timestamp converts a time to VHD seconds.
func Timestamp(t time.Time) uint32 {
	d := t.Unix() - vhdEpoch.Unix()
	if d < 0 {
		return 0
	}
	return uint32(d)
}

// TimeOf converts VHD seconds to a time.
func TimeOf(ts uint32) time.Time { return time.Unix(vhdEpoch.Unix()+int64(ts), 0).UTC() }

// Footer is the 512-byte structure at the end of every VHD (and copied at
// offset 0 of dynamic and differencing ones).
//
//	0x00 cookie "conectix"   0x08 features      0x0C version
//	0x10 data offset         0x18 timestamp     0x1C creator app
//	0x20 creator version     0x24 creator OS    0x28 original size
//	0x30 current size        0x38 geometry      0x3C disk type
//	0x40 checksum            0x44 unique id     0x54 saved state
//	0x55 hidden (blktap)     0x56 reserved (426 bytes)
type Footer struct {
	Cookie         [8]byte
	Features       uint32
	Version        uint32
	DataOffset     uint64
	Timestamp      uint32
	CreatorApp     [4]byte
	CreatorVersion uint32
	CreatorOS      uint32
	OriginalSize   uint64
	CurrentSize    uint64
	Geometry       Geometry
	Type           DiskType
	Checksum       uint32
	UUID           uuid.UUID
	SavedState     uint8
	Hidden         uint8
	Reserved       [426]byte
}

// checksum is the one's complement of the byte sum, with the checksum
// field itself counted as zero.
func checksum(b []byte, fieldOff int) uint32 {
	var sum uint32
	for i, c := range b {
		if i >= fieldOff && i < fieldOff+4 {
			continue
		}
		sum += uint32(c)
	}
	return ^sum
}

// MarshalBinary encodes the footer, computing its checksum.
func (f *Footer) MarshalBinary() ([]byte, error) {
	b := make([]byte, FooterSize)
	f.put(b)
	return b, nil
}

// put encodes into b (len ≥ 512), recomputing and storing the checksum.
func (f *Footer) put(b []byte) {
	be := binary.BigEndian
	copy(b[0x00:], f.Cookie[:])
	be.PutUint32(b[0x08:], f.Features)
	be.PutUint32(b[0x0C:], f.Version)
	be.PutUint64(b[0x10:], f.DataOffset)
	be.PutUint32(b[0x18:], f.Timestamp)
	copy(b[0x1C:], f.CreatorApp[:])
	be.PutUint32(b[0x20:], f.CreatorVersion)
	be.PutUint32(b[0x24:], f.CreatorOS)
	be.PutUint64(b[0x28:], f.OriginalSize)
	be.PutUint64(b[0x30:], f.CurrentSize)
	be.PutUint16(b[0x38:], f.Geometry.Cylinders)
	b[0x3A] = f.Geometry.Heads
	b[0x3B] = f.Geometry.Sectors
	be.PutUint32(b[0x3C:], uint32(f.Type))
	copy(b[0x44:], f.UUID[:])
	b[0x54] = f.SavedState
	b[0x55] = f.Hidden
	copy(b[0x56:FooterSize], f.Reserved[:])
	f.Checksum = checksum(b[:FooterSize], 0x40)
	be.PutUint32(b[0x40:], f.Checksum)
}

// ParseFooter decodes a footer and verifies its cookie and checksum
// (accepting tap 0.1's and 1.1's hidden byte outside it, see
// tapquirks.go). b may be 511 bytes long (an old producer's short
// footer).
func ParseFooter(b []byte) (Footer, error) {
	var f Footer
	if len(b) < FooterSize-1 {
		return f, formatErr("footer", len(b), ErrTruncated)
	}
	var buf [FooterSize]byte
	copy(buf[:], b)
	be := binary.BigEndian
	copy(f.Cookie[:], buf[0x00:])
	f.Features = be.Uint32(buf[0x08:])
	f.Version = be.Uint32(buf[0x0C:])
	f.DataOffset = be.Uint64(buf[0x10:])
	f.Timestamp = be.Uint32(buf[0x18:])
	copy(f.CreatorApp[:], buf[0x1C:])
	f.CreatorVersion = be.Uint32(buf[0x20:])
	f.CreatorOS = be.Uint32(buf[0x24:])
	f.OriginalSize = be.Uint64(buf[0x28:])
	f.CurrentSize = be.Uint64(buf[0x30:])
	f.Geometry = Geometry{be.Uint16(buf[0x38:]), buf[0x3A], buf[0x3B]}
	f.Type = DiskType(be.Uint32(buf[0x3C:]))
	f.Checksum = be.Uint32(buf[0x40:])
	copy(f.UUID[:], buf[0x44:])
	f.SavedState = buf[0x54]
	f.Hidden = buf[0x55]
	copy(f.Reserved[:], buf[0x56:])

	if f.Cookie == poisonCookie {
		return f, formatErr("footer.cookie", "v_poison", ErrPoisoned)
	}
	if f.Cookie != footerCookie {
		return f, formatErr("footer.cookie", printable(f.Cookie[:]), ErrFooterCookie)
	}
	if sum := checksum(buf[:], 0x40); sum != f.Checksum && !f.hiddenOutsideChecksum(sum) {
		return f, formatErr("footer.checksum", hexValue(f.Checksum), ErrFooterChecksum)
	}
	return f, nil
}

// Validate checks the footer fields every reader depends on.
func (f *Footer) Validate() error {
	switch f.Type {
	case Fixed, Dynamic, Differencing:
	default:
		return formatErr("footer.disk_type", uint32(f.Type), ErrDiskType)
	}
	if f.CurrentSize > MaxDiskSize {
		return formatErr("footer.current_size", f.CurrentSize, ErrTooLarge)
	}
	return nil
}

// hasBatmap says whether blktap would look for a batmap in this image.
func (f *Footer) hasBatmap() bool {
	return f.Type != Fixed && f.CreatorApp == CreatorTap && f.CreatorVersion >= batmapCreatorVersion
}

// printable renders a cookie or creator field for messages.
func printable(b []byte) string {
	b = bytes.TrimRight(b, "\x00")
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return "0x" + hexBytes(b)
		}
	}
	return string(b)
}

type hexValue uint32

func (h hexValue) String() string {
	return "0x" + hexBytes(binary.BigEndian.AppendUint32(nil, uint32(h)))
}

func hexBytes(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
