// Package libvhd reads and writes VHD (version 1) disk images the way
// blktap does: fixed, dynamic and differencing disks, parent chains, and
// blktap's batmap extension.
//
// On-disk layout of the dynamic and differencing images this package
// creates (every integer big-endian, a sector is 512 bytes):
//
//	offset            size                what
//	0                 512                 footer copy
//	0x200             1024                dynamic header
//	0x600             ROUNDUP(4×N, 512)   BAT: N u32 sector offsets, 0xFFFFFFFF = hole
//	after the BAT     512                 batmap header ("tdbatmap")
//	                  M sectors           batmap: one bit per block, set = bitmap full
//	                  512 each            parent locators (differencing only)
//	…                 per block           sector bitmap, then data (data 4 KiB aligned)
//	end − 512         512                 footer
//
// Invariants kept at every instant, so that a crash at any point leaves a
// valid image (see alloc.go and flush.go for the write order):
//   - a BAT entry on disk only points at a block whose bitmap and data are
//     already durable;
//   - a sector whose bitmap bit is clear holds zeros on disk;
//   - the EOF footer always exists past the last block: a new block goes
//     past the old end of file, after its new footer is written;
//   - the batmap never has a bit set for a block whose bitmap is not full.
package libvhd
