package ublk

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/ring"
)

// Export is what a device serves: a VBD, as every frontend sees it.
type Export = nbd.Export

// Options of a device. The zero value is one queue of 64 tags, requests
// up to 512 KiB, and a device number the kernel picks.
type Options struct {
	// Index: the device /dev/ublkbN to take (EBUSY if in use); -1 any.
	Index  int
	Queues int // the kernel grants at most one per CPU
	Depth  int // tags of each queue: its requests in flight
	// MaxIO is the largest request in bytes (a multiple of 4 KiB): each
	// tag has a buffer of that size.
	MaxIO  int
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Queues <= 0 {
		o.Queues = 1
	}
	if o.Depth <= 0 {
		o.Depth = 64
	}
	if o.MaxIO <= 0 {
		o.MaxIO = 512 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// maxTrim is the largest discard or write-zeroes the device takes (the
// kernel splits larger ones): the VBD's largest request.
const maxTrim = ring.MaxRequest

// recoverWait bounds how long Recover waits for the kernel to let go of
// a dead server (its files are released after its death).
const recoverWait = 15 * time.Second

// Device is /dev/ublkbN served from user space.
type Device struct {
	id     int
	ctl    *control
	char   *os.File // /dev/ublkcN: the queues' commands and descriptors
	queues []*queue
}

// Path is the device's node.
func (d *Device) Path() string { return Path(d.id) }

// Index is the device's number.
func (d *Device) Index() int { return d.id }

// Path is the block device node of device n.
func Path(n int) string { return fmt.Sprintf("/dev/ublkb%d", n) }

func charPath(n int) string { return fmt.Sprintf("/dev/ublkc%d", n) }

// ParsePath is the number of a device node /dev/ublkbN (or ublkbN).
func ParsePath(p string) (int, error) {
	var n int
	name := strings.TrimPrefix(p, "/dev/")
	if _, err := fmt.Sscanf(name, "ublkb%d", &n); err != nil || n < 0 || Path(n) != "/dev/"+name {
		return 0, fmt.Errorf("%q is not a ublk device (/dev/ublkbN)", p)
	}
	return n, nil
}

// Attach adds a device of e's size and capabilities and starts serving
// it. The device is made recoverable (USER_RECOVERY_REISSUE) where the
// kernel can: the requests a dead server held wait for Recover. On
// failure nothing is left.
func Attach(e Export, opts Options) (_ *Device, err error) {
	opts.defaults()
	ctl, err := openControl()
	if err != nil {
		return nil, err
	}
	features, err := ctl.features()
	if err != nil {
		ctl.close()
		return nil, err
	}
	info := devInfo{
		nrHWQueues: uint16(min(opts.Queues, maxQueues)), queueDepth: uint16(min(opts.Depth, maxDepth)),
		maxIOBufSize: uint32(opts.MaxIO), devID: uint32(opts.Index), serverPID: int32(os.Getpid()),
		flags: addFlags(features), serverFlags: gotapMark,
	}
	if err := ctl.addDev(&info); err != nil {
		ctl.close()
		return nil, fmt.Errorf("add %s: %w", deviceName(opts.Index), err)
	}
	d := &Device{id: int(info.devID), ctl: ctl}
	defer func() {
		if err != nil {
			err = fmt.Errorf("attach %s: %w", d.Path(), errors.Join(err, d.remove(time.Second)))
		}
	}()
	if err := ctl.setParams(d.id, deviceParams(e, info.maxIOBufSize)); err != nil {
		return nil, err
	}
	if err := d.serve(e, info, opts.Logger); err != nil {
		return nil, err
	}
	if err := ctl.devCmd("START_DEV", cmdStartDev, d.id); err != nil {
		return nil, err
	}
	return d, nil
}

// addFlags are the features gotap asks of a new device among those the
// kernel has: the ioctl-encoded opcodes (the only ones gotap sends), and
// a recovery that reissues what a dead server held.
func addFlags(features uint64) uint64 {
	flags := features & FeatCmdIoctlEncode
	const recovery = FeatUserRecovery | FeatUserRecoveryReissue
	if features&recovery == recovery {
		flags |= recovery
	}
	return flags
}

// deviceParams are e's size and capabilities as the device shows them.
// Blocks are 512 bytes, the sector every image addresses, with 4 KiB
// physical ones (VHD's allocation and the page cache's unit). A writable
// device takes FUA whatever the driver: the VBD makes a FUA write
// durable with a flush where the driver cannot.
func deviceParams(e Export, maxIO uint32) params {
	caps := e.Caps()
	p := params{
		readOnly: caps.ReadOnly, fua: !caps.ReadOnly, logicalShift: 9, physicalShift: 12,
		maxSectors: maxIO / 512, sectors: uint64(e.Size()) / 512,
	}
	if !caps.ReadOnly {
		p.maxZeroesSectors = maxTrim / 512
		if caps.Trim != disk.None {
			p.discardGranule, p.maxDiscardSectors = 4096, maxTrim/512
		}
	}
	return p
}

// Recover takes over device index, left waiting by a server that died,
// for e: the requests it holds are reissued to e. The device must be one
// Attach made recoverable, of e's size; that e is the image it served is
// the caller's to know. On failure the device keeps waiting.
func Recover(e Export, index int, opts Options) (_ *Device, err error) {
	opts.defaults()
	ctl, err := openControl()
	if err != nil {
		return nil, err
	}
	d := &Device{id: index, ctl: ctl}
	defer func() {
		if err != nil {
			d.stopQueues(time.Second)
			ctl.close()
			err = fmt.Errorf("recover %s: %w", d.Path(), err)
		}
	}()
	info, err := ctl.devInfo(index)
	if errors.Is(err, syscall.ENODEV) {
		return nil, fmt.Errorf("no such device: %w", err)
	}
	if err != nil {
		return nil, err
	}
	sectors, err := ctl.sectors(index)
	if err != nil {
		return nil, err
	}
	if err := checkRecoverable(info, sectors, e.Size()); err != nil {
		return nil, err
	}
	if err := startRecovery(ctl, index); err != nil {
		return nil, err
	}
	if err := d.serve(e, info, opts.Logger); err != nil {
		return nil, err
	}
	if err := ctl.devCmd("END_USER_RECOVERY", cmdEndUserRecovery, index); err != nil {
		return nil, err
	}
	return d, nil
}

// checkRecoverable refuses a device gotap did not add, one added without
// user recovery, or one of another size than size: another image's.
func checkRecoverable(info devInfo, sectors uint64, size int64) error {
	switch {
	case info.serverFlags != gotapMark:
		return fmt.Errorf("it is not gotap's: %w", syscall.EINVAL)
	case info.flags&FeatUserRecovery == 0:
		return fmt.Errorf("it was made without user recovery (the kernel lacked it): %w", syscall.EOPNOTSUPP)
	case sectors != uint64(size)/512:
		return fmt.Errorf("it has %d bytes, the image %d: another image's? %w", sectors*512, size, syscall.EMEDIUMTYPE)
	}
	return nil
}

// startRecovery sends START_USER_RECOVERY, which the kernel refuses
// (EBUSY) until the dead server's files are released: a while after
// its death, or never while it lives.
func startRecovery(ctl *control, id int) error {
	deadline := time.Now().Add(recoverWait)
	for {
		err := ctl.devCmd("START_USER_RECOVERY", cmdStartUserRecovery, id)
		if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
			if errors.Is(err, syscall.EBUSY) {
				return fmt.Errorf("its server still serves it (a tapdisk alive?): %w", err)
			}
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serve opens the device's queues and starts their threads, each
// fetching its tags.
func (d *Device) serve(e Export, info devInfo, log *slog.Logger) error {
	f, err := openChar(charPath(d.id))
	if err != nil {
		return err
	}
	d.char = f
	log = log.With("device", d.Path())
	for id := range int(info.nrHWQueues) {
		q := newQueue(id, int(info.queueDepth), int(info.maxIOBufSize), int(f.Fd()), e, log)
		if err := q.start(); err != nil {
			return err
		}
		d.queues = append(d.queues, q)
	}
	return nil
}

// openChar opens a device's char node, which devtmpfs makes as the
// device is added (udev, where it makes nodes, may take a moment).
func openChar(path string) (*os.File, error) {
	for range 50 {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if !errors.Is(err, os.ErrNotExist) {
			return f, err
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s never appeared: %w", path, os.ErrNotExist)
}

// Close stops and removes the device; wait bounds the wait for each
// queue to end once the kernel has stopped it.
func (d *Device) Close(wait time.Duration) error {
	err := d.ctl.devCmd("STOP_DEV", cmdStopDev, d.id)
	if err != nil {
		return fmt.Errorf("detach %s: %w", d.Path(), err)
	}
	if err := d.remove(wait); err != nil {
		return fmt.Errorf("detach %s: %w", d.Path(), err)
	}
	return nil
}

// remove ends the queues, lets go of the char device and deletes the
// device (DEL_DEV waits for the char device's release).
func (d *Device) remove(wait time.Duration) error {
	err := d.stopQueues(wait)
	if err == nil {
		err = d.ctl.devCmd("DEL_DEV", cmdDelDev, d.id)
	}
	d.ctl.close()
	return err
}

// stopQueues ends the queues' threads and closes the char device.
func (d *Device) stopQueues(wait time.Duration) error {
	var err error
	for _, q := range d.queues {
		err = errors.Join(err, q.stop(wait))
	}
	d.queues = nil
	if d.char != nil && err == nil {
		err = d.char.Close()
		d.char = nil
	}
	return err
}

func deviceName(index int) string {
	if index < 0 {
		return "a ublk device"
	}
	return Path(index)
}
