// Package kernelnbd attaches a disk to the Linux kernel's NBD client
// (nbd.ko) as /dev/nbdN, over the generic netlink family "nbd" rather
// than the old ioctls (NBD_SET_SOCK, NBD_DO_IT), which block a thread per
// device and turn a dead server into I/O errors.
//
// The kernel negotiates nothing: it is handed connected sockets already
// in the transmission phase, with the size, block size and server
// flags, and sends requests at once (simple replies only). Attach makes
// a socket pair per connection, serves one end with an nbd.Server
// (ServeNegotiated) and hands the other to the kernel with
// NBD_CMD_CONNECT. A server that dies (kill -9) leaves the device
// waiting up to its dead-connection timeout: Recover hands it new
// sockets with NBD_CMD_RECONFIGURE, and the requests it held go on.
// Close detaches it with NBD_CMD_DISCONNECT.
//
// This file builds and parses the netlink messages
// (include/uapi/linux/nbd-netlink.h); device.go does the rest.
package kernelnbd

import (
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
)

// The generic netlink family, its version and commands.
const (
	familyName = "nbd"
	version    = 1

	cmdConnect     = 1
	cmdDisconnect  = 2
	cmdReconfigure = 3
)

// Attributes of the commands, and of each socket in attrSockets.
const (
	attrIndex           = 1 // u32
	attrSizeBytes       = 2 // u64
	attrBlockSizeBytes  = 3 // u64
	attrTimeout         = 4 // u64, seconds
	attrServerFlags     = 5 // u64, the NBD transmission flags
	attrClientFlags     = 6 // u64
	attrSockets         = 7 // nested: sockItem, each nested: sockFD
	attrDeadConnTimeout = 8 // u64, seconds
	attrBackend         = 10

	sockItem = 1
	sockFD   = 1 // u32
)

// Config is what NBD_CMD_CONNECT tells the kernel of a device.
type Config struct {
	// Index is the device's number N (/dev/nbdN); -1 lets the kernel
	// take a free one (or make one).
	Index     int
	Size      int64 // bytes
	BlockSize int64 // the device's logical block size in bytes
	// Flags are the export's NBD transmission flags (nbd.KernelFlags).
	Flags uint16
	// Timeout: a request unanswered this long makes the kernel give up
	// on its connection (and wait for another, below). Whole seconds;
	// 0: the kernel's default.
	Timeout time.Duration
	// DeadConnTimeout: how long requests wait for a new connection
	// (Recover) once every connection is dead, before they fail.
	DeadConnTimeout time.Duration
	// Backend names what serves the device (/sys/block/nbdN/backend):
	// Recover checks that it is the same.
	Backend string
}

// seconds is d in whole seconds, rounded up so that a timeout is never 0
// ("none") by accident.
func seconds(d time.Duration) uint64 { return uint64((d + time.Second - 1) / time.Second) }

// encodeSockets adds attrSockets: one item per descriptor.
func encodeSockets(ae *netlink.AttributeEncoder, fds []int) {
	ae.Nested(attrSockets, func(nae *netlink.AttributeEncoder) error {
		for _, fd := range fds {
			nae.Nested(sockItem, func(iae *netlink.AttributeEncoder) error {
				iae.Uint32(sockFD, uint32(fd))
				return nil
			})
		}
		return nil
	})
}

// connectMessage is NBD_CMD_CONNECT of cfg over the sockets fds.
func connectMessage(cfg Config, fds []int) (genetlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	if cfg.Index >= 0 {
		ae.Uint32(attrIndex, uint32(cfg.Index))
	}
	ae.Uint64(attrSizeBytes, uint64(cfg.Size))
	ae.Uint64(attrBlockSizeBytes, uint64(cfg.BlockSize))
	ae.Uint64(attrServerFlags, uint64(cfg.Flags))
	if cfg.Timeout > 0 {
		ae.Uint64(attrTimeout, seconds(cfg.Timeout))
	}
	if cfg.DeadConnTimeout > 0 {
		ae.Uint64(attrDeadConnTimeout, seconds(cfg.DeadConnTimeout))
	}
	if cfg.Backend != "" {
		ae.String(attrBackend, cfg.Backend)
	}
	encodeSockets(ae, fds)
	return message(cmdConnect, ae)
}

// reconfigureMessage hands device index the sockets fds, in place of its
// dead connections. The kernel wants the backend it was given by
// connect, as a check.
func reconfigureMessage(index int, backend string, fds []int) (genetlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrIndex, uint32(index))
	ae.String(attrBackend, backend)
	encodeSockets(ae, fds)
	return message(cmdReconfigure, ae)
}

// disconnectMessage detaches device index.
func disconnectMessage(index int) (genetlink.Message, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(attrIndex, uint32(index))
	return message(cmdDisconnect, ae)
}

func message(cmd uint8, ae *netlink.AttributeEncoder) (genetlink.Message, error) {
	b, err := ae.Encode()
	if err != nil {
		return genetlink.Message{}, fmt.Errorf("encode nbd netlink attributes: %w", err)
	}
	return genetlink.Message{Header: genetlink.Header{Command: cmd, Version: version}, Data: b}, nil
}

// replyIndex is the device number in NBD_CMD_CONNECT's reply.
func replyIndex(msgs []genetlink.Message) (int, error) {
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return 0, fmt.Errorf("nbd connect reply: %w", err)
		}
		for ad.Next() {
			if ad.Type() == attrIndex {
				return int(ad.Uint32()), ad.Err()
			}
		}
		if err := ad.Err(); err != nil {
			return 0, fmt.Errorf("nbd connect reply: %w", err)
		}
	}
	return 0, errors.New("nbd connect reply: no device index")
}
