// Command vhd-update converts VHD images that blktap wrote before version
// 1.1 (creator "tap", version 0.1), whose sector bitmaps are in blktap2's
// old bit order, to creator version 1.1 in place: blktap's vhd-update,
// with its flags.
//
// # Synopsis
//
//	vhd-update -n NAME [-j JOURNAL] [-r] [--debug]
//
// # Description
//
// A tap 0.1 image keeps each sector bitmap as little-endian 32-bit words
// (sector n at bit n%32 of word n/32); every later image, and the VHD
// specification, uses bytes with the most significant bit first. gotap
// reads and writes both, each in its own order; vhd-update rewrites an
// old image into the new order, so that tools knowing only that order
// (blktap from 1.1 on, any reader of a differencing disk's bitmaps) read
// it right.
//
// The update first writes a journal, JOURNAL or NAME.journal: the dynamic
// header, both footers, the BAT and every bitmap as they are, synced. It
// then disables the image (header version 0xFFFFFFFF: every tool refuses
// to open it), rewrites each bitmap and stamps both footers 1.1, enables
// the image again and removes the journal. Cut short at any point (a
// crash, a power cut), it leaves the image either as it was, or disabled,
// or converted. Run vhd-update again, with the same -j, to finish a
// disabled image, or add -r to roll it back to tap 0.1. A journal of an
// image that is not disabled is of no more use: vhd-update removes it.
// It will not overwrite a file that is not a journal of the image.
//
// The image is locked as every writer locks it (QEMU's byte-range
// locks): an image that tapdisk, qemu-nbd or a VM has open is refused. An
// image that is not a tap 0.1 dynamic or differencing disk is left
// untouched, and vhd-update says so. The parent of a differencing disk
// is neither opened nor changed: update each image of a chain on its own.
//
// It prints one line, "NAME: what it did"; --debug prints each step on
// standard error.
//
// # Exit status
//
//	0  converted, finished, rolled back, or nothing to do
//	1  usage, or refused: the image is in use, or the journal is missing
//	   (for a disabled image), another image's, or not a journal
//	2  the image is not a valid VHD (a damaged EOF footer: run
//	   vhd-util repair first)
//	3  a file could not be read or written
//
// Errors go to standard error as "vhd-update: NAME: problem".
package main
