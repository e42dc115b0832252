// Package wire is the NBD protocol's wire format (doc/proto.md of the
// NetworkBlockDevice project), shared by the server (libtap/nbd) and the
// nbd: client driver (libtap/drivers/nbd): magics, codes and flags, and
// the encoding of the structures either side sends. It imports nothing
// of the engine. Its numbers are part of the protocol: never change them.
//
// Every number on the wire is big-endian. Each fixed-size structure is a
// type whose Append adds its encoding to a slice (so a caller encodes
// into a buffer it reuses, allocating nothing) and whose Parse decodes it
// from an array of its exact size, reporting false where a magic is
// wrong. Option data, whose length varies, is parsed from a slice and
// refused when malformed.
//
// Negotiation (fixed newstyle), in order:
//
//	server  Greeting      INIT magic 8, OPT magic 8, handshake flags 2
//	client  flags 4
//	client  OptionHeader  OPT magic 8, option 4, length 4; data
//	server  OptionReply   reply magic 8, option 4, type 4, length 4; data
//
// Transmission:
//
//	client  Request       magic 4, flags 2, type 2, cookie 8, offset 8, length 4; a write's data
//	server  SimpleReply   magic 4, error 4, cookie 8; a read's data
//	server  ChunkHeader   magic 4, flags 2, type 2, cookie 8, length 4; payload
//
// Chunk payloads: OFFSET_DATA an offset 8, then data; OFFSET_HOLE a Hole
// (offset 8, length 4); BLOCK_STATUS a context id 4, then Descriptors
// (length 4, flags 4); ERROR an ErrorPayload (error 4, message length 2),
// then the message (ERROR_OFFSET: then an offset 8).
package wire

import "encoding/binary"

var be = binary.BigEndian
