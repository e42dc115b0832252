package ublk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"gotap.dev/libtap/uring"
)

// ControlPath is ublk_drv's control device.
const ControlPath = "/dev/ublk-control"

// ErrNoModule: the running kernel has no ublk driver.
var ErrNoModule = fmt.Errorf("the kernel has no ublk driver (%s missing): load it with modprobe ublk_drv: %w", ControlPath, syscall.ENODEV)

// control sends control commands to /dev/ublk-control, one at a time, as
// URING_CMDs of 128-byte entries (the command is 32 bytes, more than a
// 64-byte entry holds). The kernel runs them in its io_uring workers:
// START_DEV waits there until every queue has fetched its tags.
type control struct {
	mu   sync.Mutex
	f    *os.File
	ring *uring.Ring
	// arg is the commands' buffer, under mu. The kernel reads and
	// writes it from its workers, after the submission: it must not be
	// on a goroutine's stack, which may move meanwhile (a wait that a
	// signal interrupts returns to Go).
	arg [argSize]byte
}

// argSize holds the largest argument: struct ublksrv_ctrl_dev_info.
const argSize = max(devInfoSize, paramsSize, 8)

func openControl() (*control, error) {
	f, err := os.OpenFile(ControlPath, os.O_RDWR, 0)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, ErrNoModule
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("ublk devices need root (CAP_SYS_ADMIN): %w", err)
	case err != nil:
		return nil, err
	}
	r, err := uring.New(4, uring.SetupSQE128)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ublk control: %w", err)
	}
	return &control{f: f, ring: r}, nil
}

func (c *control) close() {
	c.ring.Close()
	c.f.Close()
}

// run sends command nr with cmd as its payload, buf (if any) as the
// buffer it reads or fills (through arg), and returns the kernel's
// result.
func (c *control) run(nr uint32, cmd ctrlCmd, buf []byte) (int32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(buf) > 0 {
		copy(c.arg[:], buf)
		cmd.addr, cmd.len = uint64(uintptr(unsafe.Pointer(&c.arg[0]))), uint16(len(buf))
	}
	e := c.ring.SQE() // never nil: one command at a time
	e.PrepURingCmd(int(c.f.Fd()), ctrlOp(nr))
	cmd.encode(e.Cmd())
	cqe := c.ring.PeekCQE()
	for cqe == nil {
		if _, err := c.ring.SubmitAndWait(1); err != nil {
			return 0, err
		}
		cqe = c.ring.PeekCQE()
	}
	res := cqe.Res
	c.ring.SeenCQE()
	copy(buf, c.arg[:])
	return res, nil
}

// do runs a command whose result is 0 or -errno.
func (c *control) do(what string, nr uint32, cmd ctrlCmd, buf []byte) error {
	res, err := c.run(nr, cmd, buf)
	if err == nil && res < 0 {
		err = syscall.Errno(-res)
	}
	if err != nil {
		return fmt.Errorf("ublk %s: %w", what, err)
	}
	return nil
}

// features asks the driver what it supports (GET_FEATURES). A kernel
// that does not know the command (before 6.5) is too old for gotap.
func (c *control) features() (uint64, error) {
	var b [8]byte
	if err := c.do("GET_FEATURES", cmdGetFeatures, ctrlCmd{devID: ^uint32(0), queueID: noQueue}, b[:]); err != nil {
		return 0, fmt.Errorf("%w (ublk_drv older than Linux 6.5?)", err)
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// addDev adds a device as info asks (devID ^0: any number); the kernel
// writes back its number and the queues it granted.
func (c *control) addDev(info *devInfo) error {
	b := (*[devInfoSize]byte)(unsafe.Pointer(info))[:]
	err := c.do("ADD_DEV", cmdAddDev, ctrlCmd{devID: info.devID, queueID: noQueue}, b)
	if errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("%s is in use: %w", Path(int(info.devID)), syscall.EBUSY)
	}
	return err
}

// devInfo reads device id's information.
func (c *control) devInfo(id int) (devInfo, error) {
	var info devInfo
	b := (*[devInfoSize]byte)(unsafe.Pointer(&info))[:]
	err := c.do("GET_DEV_INFO", cmdGetDevInfo, ctrlCmd{devID: uint32(id), queueID: noQueue}, b)
	return info, err
}

func (c *control) setParams(id int, p params) error {
	b := p.encode()
	return c.do("SET_PARAMS", cmdSetParams, ctrlCmd{devID: uint32(id), queueID: noQueue}, b[:])
}

// sectors is the size device id was given, in sectors (GET_PARAMS).
func (c *control) sectors(id int) (uint64, error) {
	var b [paramsSize]byte
	binary.LittleEndian.PutUint32(b[:], paramsSize) // what to read back
	if err := c.do("GET_PARAMS", cmdGetParams, ctrlCmd{devID: uint32(id), queueID: noQueue}, b[:]); err != nil {
		return 0, err
	}
	return paramsSectors(b[:]), nil
}

// devCmd runs a device command whose data is the server's pid (START_DEV,
// END_USER_RECOVERY) or nothing.
func (c *control) devCmd(what string, nr uint32, id int) error {
	return c.do(what, nr, ctrlCmd{devID: uint32(id), queueID: noQueue, data: uint64(os.Getpid())}, nil)
}
