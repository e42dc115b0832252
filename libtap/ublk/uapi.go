package ublk

import "encoding/binary"

// The kernel's interface (include/uapi/linux/ublk_cmd.h), part of its ABI:
// never change these numbers or layouts. Everything is little-endian
// (ublk runs where the server and the kernel share a machine; gotap
// builds for little-endian Linux only).

// Command numbers, the _IOC_NR of the ioctl-encoded opcodes below.
const (
	cmdGetDevInfo        = 0x02
	cmdAddDev            = 0x04
	cmdDelDev            = 0x05
	cmdStartDev          = 0x06
	cmdStopDev           = 0x07
	cmdSetParams         = 0x08
	cmdGetParams         = 0x09
	cmdStartUserRecovery = 0x10
	cmdEndUserRecovery   = 0x11
	cmdGetFeatures       = 0x13

	ioFetchReq          = 0x20
	ioCommitAndFetchReq = 0x21
)

// ctrlCmdSize and ioCmdSize are sizeof(struct ublksrv_ctrl_cmd) and
// sizeof(struct ublksrv_io_cmd), part of the opcodes' encoding.
const (
	ctrlCmdSize = 32
	ioCmdSize   = 16
)

// ioctl directions (asm-generic/ioctl.h).
const (
	iocWrite = 1
	iocRead  = 2
)

// ioc is the kernel's _IOC(dir, 'u', nr, size): the opcodes newer kernels
// want (UBLK_F_CMD_IOCTL_ENCODE; kernels built without
// CONFIG_BLKDEV_UBLK_LEGACY_OPCODES refuse the bare numbers).
func ioc(dir, nr, size uint32) uint32 { return dir<<30 | size<<16 | 'u'<<8 | nr }

// ctrlOp is the opcode of control command nr: _IOR for those that only
// read (GET_*), _IOWR for the others, as ublk_cmd.h defines each.
func ctrlOp(nr uint32) uint32 {
	switch nr {
	case cmdGetDevInfo, cmdGetParams, cmdGetFeatures:
		return ioc(iocRead, nr, ctrlCmdSize)
	}
	return ioc(iocRead|iocWrite, nr, ctrlCmdSize)
}

// ioOp is the opcode of I/O command nr (_IOWR).
func ioOp(nr uint32) uint32 { return ioc(iocRead|iocWrite, nr, ioCmdSize) }

// Feature flags (UBLK_F_*), in ublksrv_ctrl_dev_info.flags and in
// GET_FEATURES' answer.
const (
	FeatUserRecovery        uint64 = 1 << 3 // a device outlives its server's death
	FeatUserRecoveryReissue uint64 = 1 << 4 // ...and the requests it held are reissued
	FeatCmdIoctlEncode      uint64 = 1 << 6 // the ioctl-encoded opcodes
)

// ctrlCmd is struct ublksrv_ctrl_cmd, the payload of a control command.
type ctrlCmd struct {
	devID   uint32
	queueID uint16 // 0xffff: not a queue's command
	len     uint16 // of the buffer at addr
	addr    uint64
	data    uint64
}

// noQueue is queue_id of a command for the device.
const noQueue = 0xffff

// encode writes c into b, an entry's command area (at least 32 bytes).
func (c ctrlCmd) encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], c.devID)
	le.PutUint16(b[4:], c.queueID)
	le.PutUint16(b[6:], c.len)
	le.PutUint64(b[8:], c.addr)
	le.PutUint64(b[16:], c.data)
	clear(b[24:ctrlCmdSize]) // dev_path_len, pad, reserved
}

// devInfo is struct ublksrv_ctrl_dev_info (64 bytes): ADD_DEV's argument,
// GET_DEV_INFO's answer. Go lays these fields out as C does (each
// aligned to its size, none needing padding): the kernel reads and
// writes it in place.
type devInfo struct {
	nrHWQueues   uint16
	queueDepth   uint16
	state        uint16
	_            uint16
	maxIOBufSize uint32
	devID        uint32
	serverPID    int32
	_            uint32
	flags        uint64
	// serverFlags is the server's own (the kernel keeps it and never
	// reads it): gotap's mark on the devices it adds, for Recover.
	serverFlags uint64
	ownerUID    uint32
	ownerGID    uint32
	_           [2]uint64
}

// devInfoSize is sizeof(struct ublksrv_ctrl_dev_info).
const devInfoSize = 64

// gotapMark is serverFlags of a device gotap added ("gotap" in ASCII).
const gotapMark uint64 = 0x676f746170

// Parameter types (ublk_params.types) and basic attributes.
const (
	paramBasic   = 1 << 0
	paramDiscard = 1 << 1

	attrReadOnly      = 1 << 0
	attrVolatileCache = 1 << 2
	attrFUA           = 1 << 3
)

// params is the part of struct ublk_params gotap sets: the basic and
// discard parameters.
type params struct {
	readOnly, fua     bool
	logicalShift      uint8 // log2 of the logical block size
	physicalShift     uint8
	maxSectors        uint32 // a request's largest size, in 512-byte sectors
	sectors           uint64 // the device's size
	discardGranule    uint32 // bytes; 0: no discard
	maxDiscardSectors uint32
	maxZeroesSectors  uint32 // 0: no write-zeroes
}

// paramsSize is the length of what encode writes: len and types, struct
// ublk_param_basic (32 bytes), struct ublk_param_discard (20 bytes). The
// kernel reads no more than the len it is given.
const paramsSize = 8 + 32 + 20

// encode is p as struct ublk_params' first paramsSize bytes.
func (p params) encode() [paramsSize]byte {
	var b [paramsSize]byte
	le := binary.LittleEndian
	le.PutUint32(b[0:], paramsSize)
	le.PutUint32(b[4:], paramBasic|paramDiscard)
	// Every device has a volatile cache to flush: the image's writes
	// are durable only once the driver syncs.
	attrs := uint32(attrVolatileCache)
	if p.readOnly {
		attrs |= attrReadOnly
	}
	if p.fua {
		attrs |= attrFUA
	}
	basic := b[8:40]
	le.PutUint32(basic[0:], attrs)
	basic[4], basic[5] = p.logicalShift, p.physicalShift
	basic[6], basic[7] = p.physicalShift, p.logicalShift // io_opt, io_min
	le.PutUint32(basic[8:], p.maxSectors)
	le.PutUint64(basic[16:], p.sectors)
	discard := b[40:60]
	le.PutUint32(discard[4:], max(p.discardGranule, 1<<p.logicalShift)) // never 0: the kernel refuses it
	le.PutUint32(discard[8:], p.maxDiscardSectors)
	le.PutUint32(discard[12:], p.maxZeroesSectors)
	if p.maxDiscardSectors > 0 {
		le.PutUint16(discard[16:], 1) // one range per discard: the only kind the kernel takes
	}
	return b
}

// paramsSectors is dev_sectors of encoded parameters.
func paramsSectors(b []byte) uint64 { return binary.LittleEndian.Uint64(b[24:]) }

// I/O operations (ublksrv_io_desc.op_flags' low byte) and flags.
const (
	opRead        = 0
	opWrite       = 1
	opFlush       = 2
	opDiscard     = 3
	opWriteZeroes = 5

	flagFUA     = 1 << 13
	flagNoUnmap = 1 << 15
)

// descSize is sizeof(struct ublksrv_io_desc).
const descSize = 24

// desc is struct ublksrv_io_desc: a request the kernel hands a tag.
type desc struct {
	opFlags uint32
	sectors uint32
	start   uint64 // in 512-byte sectors
	addr    uint64 // the buffer given with the tag's fetch
}

func (d desc) op() uint8 { return uint8(d.opFlags) }

// parseDesc reads the descriptor of tag from a queue's mapped array.
func parseDesc(descs []byte, tag int) desc {
	b := descs[tag*descSize:][:descSize]
	le := binary.LittleEndian
	return desc{opFlags: le.Uint32(b), sectors: le.Uint32(b[4:]), start: le.Uint64(b[8:]), addr: le.Uint64(b[16:])}
}

// ioCmd is struct ublksrv_io_cmd: a fetch, or a commit of a tag's result
// with the fetch of its next request.
type ioCmd struct {
	queue, tag uint16
	result     int32
	addr       uint64 // where the kernel copies the next request's data
}

func (c ioCmd) encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], c.queue)
	le.PutUint16(b[2:], c.tag)
	le.PutUint32(b[4:], uint32(c.result))
	le.PutUint64(b[8:], c.addr)
}

// ioResAbort is the result of a fetch the kernel ends because the device
// stops (UBLK_IO_RES_ABORT, -ENODEV): the tag is not fetched again.
const ioResAbort = -19

// Queue limits (UBLK_MAX_QUEUE_DEPTH, UBLK_MAX_NR_QUEUES).
const (
	maxDepth  = 4096
	maxQueues = 4096
)

// descsSize is the length of a queue's descriptor array as the kernel
// maps it: depth descriptors, rounded up to pages.
func descsSize(depth, pageSize int) int {
	n := depth * descSize
	return (n + pageSize - 1) / pageSize * pageSize
}

// descsOffset is where queue q's descriptors are mapped from in
// /dev/ublkcN: the kernel spaces the queues' arrays by the largest one
// (of maxDepth tags), whatever the device's depth.
func descsOffset(q, pageSize int) int64 { return int64(q) * int64(descsSize(maxDepth, pageSize)) }
