package nbd

import (
	"errors"
	"fmt"
	"io"

	"gotap.dev/libtap/nbd/wire"
)

// handshake negotiates fixed newstyle: structured replies and
// base:allocation when the server has them, then NBD_OPT_GO on the
// export asked for (NBD_OPT_EXPORT_NAME with a server too old for GO).
func (d *Disk) handshake() error {
	var b [wire.GreetingSize]byte
	if _, err := io.ReadFull(d.br, b[:]); err != nil {
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
	if err := d.send(be.AppendUint32(nil, cf)); err != nil {
		return err
	}
	typ, _, err := d.option(wire.OptStructuredReply, nil)
	if err != nil {
		return err
	}
	if d.structured = typ == wire.RepAck; d.structured {
		if err := d.selectAllocation(); err != nil {
			return err
		}
	}
	if err := d.goExport(); !errors.Is(err, errNoGo) {
		return err
	}
	return d.exportName(noZeroes)
}

var errNoGo = errors.New("NBD_OPT_GO not supported")

// selectAllocation asks for base:allocation on the export.
func (d *Disk) selectAllocation() error {
	q := wire.AppendMetaQuery(nil, d.export, wire.MetaBaseAllocation)
	typ, data, err := d.option(wire.OptSetMetaContext, q)
	for ; err == nil && typ == wire.RepMetaContext; typ, data, err = d.optReply(wire.OptSetMetaContext) {
		var m wire.MetaContext
		if m.Parse(data) && m.Name == wire.MetaBaseAllocation {
			d.allocation, d.allocID = true, m.ID
		}
	}
	return err // an error reply only means no block status
}

// goExport enters transmission with NBD_OPT_GO, learning the size,
// flags and block sizes.
func (d *Disk) goExport() error {
	q := wire.AppendExportQuery(nil, d.export, wire.InfoBlockSize)
	typ, data, err := d.option(wire.OptGo, q)
	for ; err == nil && typ == wire.RepInfo; typ, data, err = d.optReply(wire.OptGo) {
		var e wire.Export
		var bs wire.BlockSize
		switch {
		case e.ParseInfo(data):
			d.learn(e)
		case bs.ParseInfo(data):
			if m := int64(bs.Max); m > 0 {
				d.maxReq = min(d.maxReq, m&^(wire.MinBlock-1))
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
func (d *Disk) exportName(noZeroes bool) error {
	h := wire.OptionHeader{Opt: wire.OptExportName, Length: uint32(len(d.export))}
	if err := d.send(append(h.Append(nil), d.export...)); err != nil {
		return err
	}
	n := wire.ExportSize
	if !noZeroes {
		n += wire.ExportPadding
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.br, b); err != nil {
		return fmt.Errorf("NBD_OPT_EXPORT_NAME: %w", err)
	}
	var e wire.Export
	e.Parse((*[wire.ExportSize]byte)(b))
	d.learn(e)
	return nil
}

// learn takes the export's size and transmission flags.
func (d *Disk) learn(e wire.Export) {
	d.size, d.flags = int64(e.Size), e.Flags
}

// option sends an option and reads the first reply.
func (d *Disk) option(opt uint32, data []byte) (uint32, []byte, error) {
	h := wire.OptionHeader{Opt: opt, Length: uint32(len(data))}
	if err := d.send(append(h.Append(nil), data...)); err != nil {
		return 0, nil, err
	}
	return d.optReply(opt)
}

// optReply reads one option reply.
func (d *Disk) optReply(opt uint32) (uint32, []byte, error) {
	var b [wire.OptionReplySize]byte
	if _, err := io.ReadFull(d.br, b[:]); err != nil {
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
	if _, err := io.ReadFull(d.br, data); err != nil {
		return 0, nil, fmt.Errorf("option %d: %w", opt, err)
	}
	return h.Type, data, nil
}

func (d *Disk) send(b []byte) error {
	if _, err := d.bw.Write(b); err != nil {
		return err
	}
	return d.bw.Flush()
}
