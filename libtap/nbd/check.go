package nbd

import (
	"syscall"

	"gotap.dev/libtap/nbd/wire"
)

// allowedFlags are the command flags each command may carry; others are
// refused with EINVAL, as the protocol asks.
func allowedFlags(cmd uint16) (uint16, bool) {
	switch cmd {
	case wire.CmdRead:
		return wire.CmdFlagDF, true
	case wire.CmdWrite, wire.CmdTrim:
		return wire.CmdFlagFUA, true
	case wire.CmdWriteZeroes:
		return wire.CmdFlagFUA | wire.CmdFlagNoHole | wire.CmdFlagFastZero, true
	case wire.CmdFlush, wire.CmdCache:
		return 0, true
	case wire.CmdBlockStatus:
		return wire.CmdFlagReqOne, true
	}
	return 0, false
}

// check validates a request against the export, with the errors the
// protocol names: EINVAL for unknown commands or flags, misalignment,
// oversize and reads past the end; ENOSPC for writes past the end; EPERM
// for writes to a read-only export; EOVERFLOW for an oversize read that
// must not be fragmented. The Export checks again; this spares it
// requests it cannot even hold.
func (c *conn) check(r *wire.Request) syscall.Errno {
	allowed, known := allowedFlags(r.Type)
	if !known || r.Flags&^allowed != 0 {
		return syscall.EINVAL
	}
	if r.Type == wire.CmdFlush {
		return 0
	}
	writes := r.Type == wire.CmdWrite || r.Type == wire.CmdTrim || r.Type == wire.CmdWriteZeroes
	if writes && c.flags&wire.FlagReadOnly != 0 {
		return syscall.EPERM
	}
	if r.Type == wire.CmdBlockStatus && !c.allocation {
		return syscall.EINVAL
	}
	size, off, n := uint64(c.exp.Size()), r.Offset, uint64(r.Length)
	if n == 0 {
		return syscall.EINVAL
	}
	if off > size || n > size-off {
		if r.Type == wire.CmdWrite || r.Type == wire.CmdWriteZeroes {
			return syscall.ENOSPC
		}
		return syscall.EINVAL
	}
	// Block status is a query: any range is fine. The last bytes of an
	// export whose size is not a multiple of the block are reachable.
	if r.Type != wire.CmdBlockStatus && (off%wire.MinBlock != 0 || (n%wire.MinBlock != 0 && off+n != size)) {
		return syscall.EINVAL
	}
	if (r.Type == wire.CmdRead || r.Type == wire.CmdWrite) && n > wire.MaxBlock {
		if r.Flags&wire.CmdFlagDF != 0 {
			return syscall.EOVERFLOW
		}
		return syscall.EINVAL
	}
	return 0
}
