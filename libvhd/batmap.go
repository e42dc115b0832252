package libvhd

import "encoding/binary"

// Part of the format, never change.
const (
	batmapHeaderSize = 512
	batmapVersion    = 0x00010002
)

var batmapCookie = [8]byte{'t', 'd', 'b', 'a', 't', 'm', 'a', 'p'}

// BatmapHeader is blktap's batmap header, stored right after the BAT.
// The map that follows has one bit per block (most significant bit
// first), set only when that block's sector bitmap is completely full.
//
//	0x00 cookie "tdbatmap"  0x08 map offset  0x10 map size (sectors)
//	0x14 version            0x18 checksum    0x1C marker
//	0x1D key hash: cookie u8, nonce [32], hash [32]
type BatmapHeader struct {
	Cookie     [8]byte
	MapOffset  uint64
	MapSectors uint32
	Version    uint32
	Checksum   uint32 // NOT of the byte sum over the map
	Marker     uint8
	KeyHash    KeyHash
}

// KeyHash ties an image to an encryption key (blktap's keyhash).
type KeyHash struct {
	Cookie uint8
	Nonce  [32]byte
	Hash   [32]byte
}

func (h *BatmapHeader) put(b []byte) {
	be := binary.BigEndian
	clear(b[:batmapHeaderSize])
	copy(b[0x00:], h.Cookie[:])
	be.PutUint64(b[0x08:], h.MapOffset)
	be.PutUint32(b[0x10:], h.MapSectors)
	be.PutUint32(b[0x14:], h.Version)
	be.PutUint32(b[0x18:], h.Checksum)
	b[0x1C] = h.Marker
	b[0x1D] = h.KeyHash.Cookie
	copy(b[0x1E:], h.KeyHash.Nonce[:])
	copy(b[0x3E:], h.KeyHash.Hash[:])
}

// ParseBatmapHeader decodes a batmap header; it checks the cookie only.
func ParseBatmapHeader(b []byte) (BatmapHeader, bool) {
	var h BatmapHeader
	if len(b) < batmapHeaderSize {
		return h, false
	}
	be := binary.BigEndian
	copy(h.Cookie[:], b[0x00:])
	h.MapOffset = be.Uint64(b[0x08:])
	h.MapSectors = be.Uint32(b[0x10:])
	h.Version = be.Uint32(b[0x14:])
	h.Checksum = be.Uint32(b[0x18:])
	h.Marker = b[0x1C]
	h.KeyHash.Cookie = b[0x1D]
	copy(h.KeyHash.Nonce[:], b[0x1E:])
	copy(h.KeyHash.Hash[:], b[0x3E:])
	return h, h.Cookie == batmapCookie
}

// batmapChecksum is the NOT of the byte sum of the map.
func batmapChecksum(m []byte) uint32 {
	var sum uint32
	for _, c := range m {
		sum += uint32(c)
	}
	return ^sum
}

// batmapSectors is the map size for a table of n entries: one bit each,
// at least one sector.
func batmapSectors(n uint32) uint32 {
	return uint32(max(roundUp((int64(n)+7)/8, SectorSize)/SectorSize, 1))
}

// Bit helpers for bitmaps and the batmap: bit i is 0x80>>(i%8) of byte i/8.
func testBit(m []byte, i int) bool { return m[i>>3]&(0x80>>(i&7)) != 0 }
func setBit(m []byte, i int)       { m[i>>3] |= 0x80 >> (i & 7) }
func clearBit(m []byte, i int)     { m[i>>3] &^= 0x80 >> (i & 7) }
