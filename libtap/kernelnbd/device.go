package kernelnbd

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"

	"gotap.dev/libtap/internal/sockpair"
	"gotap.dev/libtap/nbd"
)

// ErrNoModule: the running kernel has no NBD client.
var ErrNoModule = fmt.Errorf("the kernel has no NBD client (nbd.ko): load it with modprobe nbd: %w", syscall.ENODEV)

// Backend is what a device made here names as its backend
// (/sys/block/nbdN/backend): Recover takes no other.
const Backend = "gotap"

// Options of a device. The zero value is one connection, 512-byte
// blocks, the kernel's timeouts and a device number it picks.
type Options struct {
	// Index: the device /dev/nbdN to take (EBUSY if in use); -1 any.
	Index int
	// Conns: connections (the kernel spreads requests over them: its
	// multi-conn); 0 is 1.
	Conns int
	// BlockSize: the logical block size; 0 is 512, the sector every
	// image addresses (a partition table written through a 4 KiB device
	// would not be found by a VM that sees 512-byte sectors).
	BlockSize       int64
	Timeout         time.Duration // see Config
	DeadConnTimeout time.Duration // see Config
}

// Device is /dev/nbdN served by an nbd.Server's export.
type Device struct {
	index   int
	serving sync.WaitGroup // ServeNegotiated of each connection
}

// Path is the device's node.
func (d *Device) Path() string { return Path(d.index) }

// Index is the device's number.
func (d *Device) Index() int { return d.index }

// Path is the node of device n.
func Path(n int) string { return fmt.Sprintf("/dev/nbd%d", n) }

// ParsePath is the number of a device node /dev/nbdN (or nbdN).
func ParsePath(p string) (int, error) {
	var n int
	name := strings.TrimPrefix(p, "/dev/")
	if _, err := fmt.Sscanf(name, "nbd%d", &n); err != nil || n < 0 || Path(n) != "/dev/"+name {
		return 0, fmt.Errorf("%q is not an NBD device (/dev/nbdN)", p)
	}
	return n, nil
}

// Attach makes the kernel serve export name of srv (e) as a device:
// NBD_CMD_CONNECT with opts.Conns new connections.
func Attach(srv *nbd.Server, name string, e nbd.Export, opts Options) (*Device, error) {
	cfg := Config{
		Index: opts.Index, Size: e.Size(), BlockSize: opts.BlockSize, Flags: nbd.KernelFlags(e),
		Timeout: opts.Timeout, DeadConnTimeout: opts.DeadConnTimeout, Backend: Backend,
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = 512
	}
	d := &Device{index: opts.Index}
	err := d.handOver(srv, name, opts.Conns, func(fds []int) (genetlink.Message, error) {
		return connectMessage(cfg, fds)
	})
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", deviceName(opts.Index), connectError(err))
	}
	return d, nil
}

// Recover hands device index, left waiting by a server that died, new
// connections to export name of srv (NBD_CMD_RECONFIGURE): the requests
// it holds go on. The device must be one Attach made (its backend) of
// e's size; that e is the image it served, under snapshots taken since
// perhaps, is the caller's to know.
func Recover(srv *nbd.Server, name string, e nbd.Export, index int, opts Options) (*Device, error) {
	if err := checkRecoverable(fmt.Sprintf("/sys/block/nbd%d", index), e.Size()); err != nil {
		return nil, fmt.Errorf("recover %s: %w", Path(index), err)
	}
	d := &Device{index: index}
	err := d.handOver(srv, name, opts.Conns, func(fds []int) (genetlink.Message, error) {
		return reconfigureMessage(index, Backend, fds)
	})
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return nil, fmt.Errorf("recover %s: it has no dead connection to replace (is its server still running?): %w", Path(index), err)
	case errors.Is(err, syscall.EINVAL):
		return nil, fmt.Errorf("recover %s: it is not attached: %w", Path(index), err)
	case err != nil:
		return nil, fmt.Errorf("recover %s: %w", Path(index), err)
	}
	return d, nil
}

// handOver makes conns socket pairs, serves one end of each, and sends
// the message build makes of the other ends' descriptors. The kernel
// holds its own references to the sockets once it has taken them; on
// failure our ends close, which ends their serving.
func (d *Device) handOver(srv *nbd.Server, name string, conns int, build func([]int) (genetlink.Message, error)) error {
	conns = max(conns, 1)
	var kernel []*os.File
	defer func() {
		for _, f := range kernel {
			f.Close()
		}
	}()
	var ours []net.Conn
	fds := make([]int, 0, conns)
	for range conns {
		a, b, err := sockpair.New()
		if err != nil {
			closeAll(ours)
			return err
		}
		f, err := b.File() // a duplicate descriptor, for the kernel
		b.Close()
		if err != nil {
			a.Close()
			closeAll(ours)
			return fmt.Errorf("socket for the kernel: %w", err)
		}
		ours, kernel, fds = append(ours, a), append(kernel, f), append(fds, int(f.Fd()))
	}
	for _, nc := range ours {
		d.serving.Add(1)
		go func() {
			defer d.serving.Done()
			srv.ServeNegotiated(nc, name)
		}()
	}
	m, err := build(fds)
	if err == nil {
		var idx int
		if idx, err = execute(m); err == nil && m.Header.Command == cmdConnect {
			d.index = idx
		}
	}
	if err != nil {
		closeAll(ours)
		d.serving.Wait()
	}
	return err
}

func closeAll(cs []net.Conn) {
	for _, c := range cs {
		c.Close()
	}
}

// Close detaches the device (NBD_CMD_DISCONNECT): the kernel sends each
// connection a disconnect, which ends its serving; Close waits for that
// up to wait.
func (d *Device) Close(wait time.Duration) error {
	m, err := disconnectMessage(d.index)
	if err == nil {
		_, err = execute(m)
	}
	if err != nil {
		return fmt.Errorf("detach %s: %w", d.Path(), err)
	}
	done := make(chan struct{})
	go func() { d.serving.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(wait):
		return fmt.Errorf("detach %s: its connections still open after %v", d.Path(), wait)
	}
}

// execute sends m to the nbd family and returns the device index of its
// reply (CONNECT's; 0 for the others).
func execute(m genetlink.Message) (int, error) {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return 0, fmt.Errorf("generic netlink: %w", err)
	}
	defer c.Close()
	f, err := c.GetFamily(familyName)
	if errors.Is(err, os.ErrNotExist) {
		return 0, ErrNoModule
	}
	if err != nil {
		return 0, fmt.Errorf("generic netlink family %s: %w", familyName, err)
	}
	if m.Header.Command != cmdConnect {
		_, err := c.Execute(m, f.ID, netlink.Request|netlink.Acknowledge)
		return 0, err
	}
	msgs, err := c.Execute(m, f.ID, netlink.Request)
	if err != nil {
		return 0, err
	}
	return replyIndex(msgs)
}

// connectError explains the kernel's refusals of a connect.
func connectError(err error) error {
	switch {
	case errors.Is(err, syscall.EBUSY):
		return fmt.Errorf("the device is in use: %w", err)
	case errors.Is(err, syscall.EPERM):
		return fmt.Errorf("attaching a kernel NBD device needs CAP_SYS_ADMIN (root): %w", err)
	}
	return err
}

func deviceName(index int) string {
	if index < 0 {
		return "an NBD device"
	}
	return Path(index)
}

// checkRecoverable refuses a device (its folder in /sys/block) that is
// not attached, that Attach did not make, or whose size is not size:
// another image's.
func checkRecoverable(sys string, size int64) error {
	backend, err := os.ReadFile(filepath.Join(sys, "backend"))
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("not attached: %w", syscall.ENODEV)
	}
	if err != nil {
		return err
	}
	if b := strings.TrimSpace(string(backend)); b != Backend {
		return fmt.Errorf("it is not gotap's (backend %q): %w", b, syscall.EINVAL)
	}
	sectors, err := os.ReadFile(filepath.Join(sys, "size"))
	if err != nil {
		return err
	}
	var n int64
	if _, err := fmt.Sscan(string(sectors), &n); err != nil {
		return fmt.Errorf("%s/size: %w", sys, err)
	}
	if n*512 != size {
		return fmt.Errorf("it has %d bytes, the image %d: another image's? %w", n*512, size, syscall.EMEDIUMTYPE)
	}
	return nil
}
