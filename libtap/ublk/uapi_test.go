package ublk

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"
)

// TestOpcodes: the ioctl-encoded opcodes as ublk_cmd.h's _IOR/_IOWR
// macros make them (the values libublksrv sends).
func TestOpcodes(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uint32
		want uint32
	}{
		{"GET_DEV_INFO", ctrlOp(cmdGetDevInfo), 0x80207502},
		{"ADD_DEV", ctrlOp(cmdAddDev), 0xc0207504},
		{"DEL_DEV", ctrlOp(cmdDelDev), 0xc0207505},
		{"START_DEV", ctrlOp(cmdStartDev), 0xc0207506},
		{"STOP_DEV", ctrlOp(cmdStopDev), 0xc0207507},
		{"SET_PARAMS", ctrlOp(cmdSetParams), 0xc0207508},
		{"GET_PARAMS", ctrlOp(cmdGetParams), 0x80207509},
		{"START_USER_RECOVERY", ctrlOp(cmdStartUserRecovery), 0xc0207510},
		{"END_USER_RECOVERY", ctrlOp(cmdEndUserRecovery), 0xc0207511},
		{"GET_FEATURES", ctrlOp(cmdGetFeatures), 0x80207513},
		{"FETCH_REQ", ioOp(ioFetchReq), 0xc0107520},
		{"COMMIT_AND_FETCH_REQ", ioOp(ioCommitAndFetchReq), 0xc0107521},
	} {
		if tc.got != tc.want {
			t.Errorf("UBLK_U_%s = %#x; want %#x", tc.name, tc.got, tc.want)
		}
	}
}

// TestDevInfoLayout: devInfo is passed to the kernel in place, so its
// size and offsets must be struct ublksrv_ctrl_dev_info's.
func TestDevInfoLayout(t *testing.T) {
	var d devInfo
	for _, tc := range []struct {
		field     string
		got, want uintptr
	}{
		{"size", unsafe.Sizeof(d), devInfoSize},
		{"queue_depth", unsafe.Offsetof(d.queueDepth), 2},
		{"state", unsafe.Offsetof(d.state), 4},
		{"max_io_buf_bytes", unsafe.Offsetof(d.maxIOBufSize), 8},
		{"dev_id", unsafe.Offsetof(d.devID), 12},
		{"ublksrv_pid", unsafe.Offsetof(d.serverPID), 16},
		{"flags", unsafe.Offsetof(d.flags), 24},
		{"ublksrv_flags", unsafe.Offsetof(d.serverFlags), 32},
		{"owner_uid", unsafe.Offsetof(d.ownerUID), 40},
	} {
		if tc.got != tc.want {
			t.Errorf("%s at %d; want %d", tc.field, tc.got, tc.want)
		}
	}
}

// TestCommandEncoding: the control and I/O commands' payloads, byte by
// byte, over an area holding garbage (an entry's area is reused).
func TestCommandEncoding(t *testing.T) {
	area := bytes.Repeat([]byte{0xee}, 80)
	ctrlCmd{devID: 3, queueID: noQueue, len: 64, addr: 0x1122334455667788, data: 4242}.encode(area)
	want := []byte{
		3, 0, 0, 0, 0xff, 0xff, 64, 0,
		0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		0x92, 0x10, 0, 0, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0, // dev_path_len, pad, reserved: zeroed
	}
	if !bytes.Equal(area[:ctrlCmdSize], want) {
		t.Errorf("ctrl cmd % x\nwant     % x", area[:ctrlCmdSize], want)
	}
	ioCmd{queue: 1, tag: 0x203, result: -5, addr: 0x7f0000001000}.encode(area)
	want = []byte{1, 0, 3, 2, 0xfb, 0xff, 0xff, 0xff, 0, 0x10, 0, 0, 0, 0x7f, 0, 0}
	if !bytes.Equal(area[:ioCmdSize], want) {
		t.Errorf("io cmd % x\nwant   % x", area[:ioCmdSize], want)
	}
}

// TestParamsEncoding: struct ublk_params' header, basic and discard
// parts at their offsets.
func TestParamsEncoding(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		name                           string
		p                              params
		attrs, granule, discard, zeros uint32
		segments                       uint16
	}{
		{"writable with discard",
			params{fua: true, logicalShift: 9, physicalShift: 12, maxSectors: 1024, sectors: 1 << 21, discardGranule: 4096, maxDiscardSectors: 65536, maxZeroesSectors: 65536},
			attrVolatileCache | attrFUA, 4096, 65536, 65536, 1},
		{"writable, no discard",
			params{fua: true, logicalShift: 9, physicalShift: 12, maxSectors: 1024, sectors: 1 << 21, maxZeroesSectors: 65536},
			attrVolatileCache | attrFUA, 512, 0, 65536, 0},
		{"read-only",
			params{readOnly: true, logicalShift: 9, physicalShift: 12, maxSectors: 1024, sectors: 1 << 21},
			attrVolatileCache | attrReadOnly, 512, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.p.encode()
			for _, f := range []struct {
				field     string
				got, want uint64
			}{
				{"len", uint64(le.Uint32(b[0:])), paramsSize},
				{"types", uint64(le.Uint32(b[4:])), paramBasic | paramDiscard},
				{"attrs", uint64(le.Uint32(b[8:])), uint64(tc.attrs)},
				{"logical_bs_shift", uint64(b[12]), 9},
				{"physical_bs_shift", uint64(b[13]), 12},
				{"io_opt_shift", uint64(b[14]), 12},
				{"io_min_shift", uint64(b[15]), 9},
				{"max_sectors", uint64(le.Uint32(b[16:])), 1024},
				{"chunk_sectors", uint64(le.Uint32(b[20:])), 0},
				{"dev_sectors", paramsSectors(b[:]), 1 << 21},
				{"virt_boundary_mask", le.Uint64(b[32:]), 0},
				{"discard_alignment", uint64(le.Uint32(b[40:])), 0},
				{"discard_granularity", uint64(le.Uint32(b[44:])), uint64(tc.granule)},
				{"max_discard_sectors", uint64(le.Uint32(b[48:])), uint64(tc.discard)},
				{"max_write_zeroes_sectors", uint64(le.Uint32(b[52:])), uint64(tc.zeros)},
				{"max_discard_segments", uint64(le.Uint16(b[56:])), uint64(tc.segments)},
			} {
				if f.got != f.want {
					t.Errorf("%s = %d; want %d", f.field, f.got, f.want)
				}
			}
		})
	}
}

// TestParseDesc: descriptors read from a mapped array by tag.
func TestParseDesc(t *testing.T) {
	descs := make([]byte, descsSize(3, 4096))
	le := binary.LittleEndian
	b := descs[2*descSize:]
	le.PutUint32(b, opWrite|flagFUA)
	le.PutUint32(b[4:], 8)
	le.PutUint64(b[8:], 1<<30)
	le.PutUint64(b[16:], 0xdead000)
	got := parseDesc(descs, 2)
	want := desc{opFlags: opWrite | flagFUA, sectors: 8, start: 1 << 30, addr: 0xdead000}
	if got != want || got.op() != opWrite {
		t.Errorf("parseDesc = %+v (op %d); want %+v", got, got.op(), want)
	}
	if d := parseDesc(descs, 0); d != (desc{}) {
		t.Errorf("tag 0 = %+v; want zero", d)
	}
}

func TestDescsSize(t *testing.T) {
	for _, tc := range []struct{ depth, page, want int }{
		{1, 4096, 4096}, {64, 4096, 4096}, {170, 4096, 4096}, {171, 4096, 8192}, {4096, 4096, 24 * 4096}, {64, 65536, 65536},
	} {
		if got := descsSize(tc.depth, tc.page); got != tc.want {
			t.Errorf("descsSize(%d, %d) = %d; want %d", tc.depth, tc.page, got, tc.want)
		}
	}
}

// TestDescsOffset: queues' arrays lie 4096 descriptors apart, rounded up
// to pages, whatever the depth (queue 1 at 4096 bytes would be read by
// the kernel as queue 0's: every request of queue 1 then reads queue 0's
// descriptors).
func TestDescsOffset(t *testing.T) {
	for _, tc := range []struct {
		q, page int
		want    int64
	}{{0, 4096, 0}, {1, 4096, 98304}, {3, 4096, 3 * 98304}, {1, 65536, 131072}} {
		if got := descsOffset(tc.q, tc.page); got != tc.want {
			t.Errorf("descsOffset(%d, %d) = %d; want %d", tc.q, tc.page, got, tc.want)
		}
	}
}
