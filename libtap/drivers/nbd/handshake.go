package nbd

import (
	"errors"
	"fmt"
	"io"
	"math"

	"gotap.dev/libtap/nbd/wire"
)

// handshake negotiates fixed newstyle: structured replies and
// base:allocation when the server has them, then NBD_OPT_GO on the
// export asked for (NBD_OPT_EXPORT_NAME with a server too old for GO).
func (c *conn) handshake() error {
	var b [wire.GreetingSize]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	var g wire.Greeting
	if !g.Parse(&b) {
		return errors.New("not a newstyle NBD server")
	}
	if g.Flags&wire.FlagFixedNewstyle == 0 {
		return errors.New("server does not speak fixed newstyle")
	}
	cf := wire.ClientFixedNewstyle
	noZeroes := g.Flags&wire.FlagNoZeroes != 0
	if noZeroes {
		cf |= wire.ClientNoZeroes
	}
	if err := c.sendNow(be.AppendUint32(nil, cf)); err != nil {
		return err
	}
	typ, _, err := c.option(wire.OptStructuredReply, nil)
	if err != nil {
		return err
	}
	if c.info.structured = typ == wire.RepAck; c.info.structured {
		if err := c.selectAllocation(); err != nil {
			return err
		}
	}
	if err := c.goExport(); !errors.Is(err, errNoGo) {
		return err
	}
	return c.exportName(noZeroes)
}

var errNoGo = errors.New("NBD_OPT_GO not supported")

// selectAllocation asks for base:allocation on the export.
func (c *conn) selectAllocation() error {
	q := wire.AppendMetaQuery(nil, c.export, wire.MetaBaseAllocation)
	typ, data, err := c.option(wire.OptSetMetaContext, q)
	for ; err == nil && typ == wire.RepMetaContext; typ, data, err = c.optReply(wire.OptSetMetaContext) {
		var m wire.MetaContext
		if m.Parse(data) && m.Name == wire.MetaBaseAllocation {
			c.info.allocation, c.allocID = true, m.ID
		}
	}
	return err // an error reply only means no block status
}

// goExport enters transmission with NBD_OPT_GO, learning the size,
// flags and block sizes.
func (c *conn) goExport() error {
	q := wire.AppendExportQuery(nil, c.export, wire.InfoBlockSize)
	typ, data, err := c.option(wire.OptGo, q)
	for ; err == nil && typ == wire.RepInfo; typ, data, err = c.optReply(wire.OptGo) {
		var e wire.Export
		var bs wire.BlockSize
		switch {
		case e.ParseInfo(data):
			if err := c.learn(e); err != nil {
				return err
			}
		case bs.ParseInfo(data):
			if err := c.learnMax(bs.Max); err != nil {
				return err
			}
		}
	}
	switch {
	case err != nil:
		return err
	case typ == wire.RepAck:
		return nil
	case typ == wire.RepErrUnsup:
		return errNoGo
	}
	return fmt.Errorf("NBD_OPT_GO refused (%#x): %s", typ, data)
}

// exportName is the old way in: no error reply, the server hangs up.
func (c *conn) exportName(noZeroes bool) error {
	h := wire.OptionHeader{Opt: wire.OptExportName, Length: uint32(len(c.export))}
	if err := c.sendNow(append(h.Append(nil), c.export...)); err != nil {
		return err
	}
	n := wire.ExportSize
	if !noZeroes {
		n += wire.ExportPadding
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.br, b); err != nil {
		return fmt.Errorf("NBD_OPT_EXPORT_NAME: %w", err)
	}
	var e wire.Export
	e.Parse((*[wire.ExportSize]byte)(b))
	return c.learn(e)
}

// learn takes the export's size and transmission flags.
func (c *conn) learn(e wire.Export) error {
	if e.Size > math.MaxInt64 {
		return fmt.Errorf("export of %d bytes: larger than a disk can be", e.Size)
	}
	c.info.size, c.info.flags = int64(e.Size), e.Flags
	return nil
}

// learnMax takes the largest request the server accepts (0: it sets
// none), in whole sectors: every request the driver sends is. A server
// that takes less than a sector could only ever be sent empty requests.
func (c *conn) learnMax(largest uint32) error {
	if largest == 0 {
		return nil
	}
	if largest < wire.MinBlock {
		return fmt.Errorf("server takes requests of %d bytes at most, less than a sector", largest)
	}
	c.info.maxReq = min(c.info.maxReq, int64(largest)&^(wire.MinBlock-1))
	return nil
}

// option sends an option and reads the first reply.
func (c *conn) option(opt uint32, data []byte) (uint32, []byte, error) {
	h := wire.OptionHeader{Opt: opt, Length: uint32(len(data))}
	if err := c.sendNow(append(h.Append(nil), data...)); err != nil {
		return 0, nil, err
	}
	return c.optReply(opt)
}

// optReply reads one option reply.
func (c *conn) optReply(opt uint32) (uint32, []byte, error) {
	var b [wire.OptionReplySize]byte
	if _, err := io.ReadFull(c.br, b[:]); err != nil {
		return 0, nil, fmt.Errorf("option %d: %w", opt, err)
	}
	var h wire.OptionReply
	if !h.Parse(&b) || h.Opt != opt {
		return 0, nil, fmt.Errorf("option %d: bad reply header % x", opt, b)
	}
	if h.Length > 1<<20 {
		return 0, nil, fmt.Errorf("option %d: reply of %d bytes", opt, h.Length)
	}
	data := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, data); err != nil {
		return 0, nil, fmt.Errorf("option %d: %w", opt, err)
	}
	return h.Type, data, nil
}

// sendNow writes handshake bytes (before the reader and writer start).
func (c *conn) sendNow(b []byte) error {
	_, err := c.w.Write(b)
	return err
}
