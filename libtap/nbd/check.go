package nbd

import (
	"syscall"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/ring"
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

// check validates what is the protocol's alone, with the errors it
// names: EINVAL for unknown commands, flags not allowed or not
// negotiated, and reads or writes larger than a slot may hold (EOVERFLOW
// when the client forbade fragmenting). Range, alignment and read-only
// are the Export's rules (vbd.Submit); replyErrno words its refusals.
func (c *conn) check(r *wire.Request) syscall.Errno {
	allowed, known := allowedFlags(r.Type)
	if !known || r.Flags&^allowed != 0 {
		return syscall.EINVAL
	}
	if r.Type == wire.CmdBlockStatus && !c.allocation {
		return syscall.EINVAL
	}
	if (r.Type == wire.CmdRead || r.Type == wire.CmdWrite) && r.Length > wire.MaxBlock {
		if r.Flags&wire.CmdFlagDF != 0 {
			return syscall.EOVERFLOW
		}
		return syscall.EINVAL
	}
	return 0
}

// replyErrno is the errno a failed request is answered with. The Export
// refuses any range past the end with ENOSPC; NBD keeps that for writes
// and asks EINVAL for the other commands.
func replyErrno(req *ring.Request) syscall.Errno {
	e := disk.Errno(req.Err)
	if e == syscall.ENOSPC && req.Op != ring.Write && req.Op != ring.WriteZeroes {
		return syscall.EINVAL
	}
	return e
}
