package uring

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// SQE is a submission queue entry, struct io_uring_sqe's first 64 bytes.
// With SetupSQE128 each entry is 128 bytes; the second half is reached
// through Cmd.
type SQE struct {
	Opcode      uint8
	Flags       uint8
	IOPrio      uint16
	FD          int32
	Off         uint64 // the file offset; URING_CMD: cmd_op in the low 32 bits
	Addr        uint64
	Len         uint32
	OpFlags     uint32 // rw_flags, fsync_flags, uring_cmd_flags…
	UserData    uint64
	BufIndex    uint16
	Personality uint16
	SpliceFDIn  int32
	Addr3       uint64 // URING_CMD: where the command's payload starts
	pad         uint64
}

// Reset zeroes the entry (a ring's entries are reused).
func (e *SQE) Reset() { *e = SQE{} }

// PrepRW sets up a read or write of one buffer (OpRead, OpWrite) or a
// vector (OpReadv, OpWritev: addr points at n iovecs).
func (e *SQE) PrepRW(op uint8, fd int, addr unsafe.Pointer, n uint32, off int64) {
	e.Opcode, e.FD, e.Addr, e.Len, e.Off = op, int32(fd), uint64(uintptr(addr)), n, uint64(off)
}

// PrepBuf sets up OpRead or OpWrite of buf.
func (e *SQE) PrepBuf(op uint8, fd int, buf []byte, off int64) {
	e.PrepRW(op, fd, unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)), off)
}

// PrepFixed sets up OpReadFixed or OpWriteFixed of buf, which lies inside
// registered buffer index.
func (e *SQE) PrepFixed(op uint8, fd int, buf []byte, off int64, index uint16) {
	e.PrepBuf(op, fd, buf, off)
	e.BufIndex = index
}

// PrepVec sets up OpReadv or OpWritev over iov.
func (e *SQE) PrepVec(op uint8, fd int, iov []unix.Iovec, off int64) {
	e.PrepRW(op, fd, unsafe.Pointer(unsafe.SliceData(iov)), uint32(len(iov)), off)
}

// PrepFsync sets up an fsync (flags: FsyncDatasync for fdatasync).
func (e *SQE) PrepFsync(fd int, flags uint32) {
	e.Opcode, e.FD, e.OpFlags = OpFsync, int32(fd), flags
}

// PrepURingCmd sets up a URING_CMD to fd (a ublk queue, say); its
// payload is written into Cmd.
func (e *SQE) PrepURingCmd(fd int, cmdOp uint32) {
	e.Opcode, e.FD, e.Off = OpURingCmd, int32(fd), uint64(cmdOp)
}

// sqeCmdOffset is where struct io_uring_sqe's cmd[] begins.
const sqeCmdOffset = unsafe.Offsetof(SQE{}.Addr3)

// Cmd is the command payload of an entry in a ring set up with
// SetupSQE128 (80 bytes); it is only valid for entries taken from such a
// ring, not for copies.
func (e *SQE) Cmd() []byte {
	return unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(e), sqeCmdOffset)), 128-sqeCmdOffset)
}

// CQE is a completion queue entry, struct io_uring_cqe.
type CQE struct {
	UserData uint64
	Res      int32 // a byte count, or -errno
	Flags    uint32
}
