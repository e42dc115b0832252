package nbd

import (
	"errors"
	"fmt"
	"io"

	proto "gotap.dev/libtap/nbd"
)

// handshake negotiates fixed newstyle: structured replies and
// base:allocation when the server has them, then NBD_OPT_GO on the
// default export (NBD_OPT_EXPORT_NAME with a server too old for GO).
func (d *Disk) handshake() error {
	var g [18]byte
	if _, err := io.ReadFull(d.br, g[:]); err != nil {
		return fmt.Errorf("read greeting: %w", err)
	}
	if be.Uint64(g[:]) != proto.InitMagic || be.Uint64(g[8:]) != proto.OptMagic {
		return errors.New("not a newstyle NBD server")
	}
	hs := be.Uint16(g[16:])
	if hs&proto.FlagFixedNewstyle == 0 {
		return errors.New("server does not speak fixed newstyle")
	}
	cf := proto.ClientFixedNewstyle
	noZeroes := hs&proto.FlagNoZeroes != 0
	if noZeroes {
		cf |= proto.ClientNoZeroes
	}
	if err := d.send(be.AppendUint32(nil, cf)); err != nil {
		return err
	}
	typ, _, err := d.option(proto.OptStructuredReply, nil)
	if err != nil {
		return err
	}
	if d.structured = typ == proto.RepAck; d.structured {
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

// selectAllocation asks for base:allocation on the default export.
func (d *Disk) selectAllocation() error {
	q := be.AppendUint32(nil, 0) // default export
	q = be.AppendUint32(q, 1)
	q = be.AppendUint32(q, uint32(len(proto.MetaBaseAllocation)))
	q = append(q, proto.MetaBaseAllocation...)
	typ, data, err := d.option(proto.OptSetMetaContext, q)
	for ; err == nil && typ == proto.RepMetaContext; typ, data, err = d.optReply(proto.OptSetMetaContext) {
		if len(data) >= 4 && string(data[4:]) == proto.MetaBaseAllocation {
			d.allocation, d.allocID = true, be.Uint32(data)
		}
	}
	return err // an error reply only means no block status
}

// goExport enters transmission with NBD_OPT_GO, learning the size,
// flags and block sizes.
func (d *Disk) goExport() error {
	q := be.AppendUint32(nil, 0) // default export
	q = be.AppendUint16(q, 1)
	q = be.AppendUint16(q, proto.InfoBlockSize)
	typ, data, err := d.option(proto.OptGo, q)
	for ; err == nil && typ == proto.RepInfo; typ, data, err = d.optReply(proto.OptGo) {
		switch {
		case len(data) >= 12 && be.Uint16(data) == proto.InfoExport:
			d.size, d.flags = int64(be.Uint64(data[2:])), be.Uint16(data[10:])
		case len(data) >= 14 && be.Uint16(data) == proto.InfoBlockSize:
			if m := int64(be.Uint32(data[10:])); m > 0 {
				d.maxReq = min(d.maxReq, m&^(proto.MinBlock-1))
			}
		}
	}
	switch {
	case err != nil:
		return err
	case typ == proto.RepAck:
		return nil
	case typ == proto.RepErrUnsup:
		return errNoGo
	}
	return fmt.Errorf("NBD_OPT_GO refused (%#x): %s", typ, data)
}

// exportName is the old way in: no error reply, the server hangs up.
func (d *Disk) exportName(noZeroes bool) error {
	if err := d.send(proto.PutOption(nil, proto.OptExportName, 0)); err != nil {
		return err
	}
	n := 10
	if !noZeroes {
		n += 124
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(d.br, b); err != nil {
		return fmt.Errorf("NBD_OPT_EXPORT_NAME: %w", err)
	}
	d.size, d.flags = int64(be.Uint64(b)), be.Uint16(b[8:])
	return nil
}

// option sends an option and reads the first reply.
func (d *Disk) option(opt uint32, data []byte) (uint32, []byte, error) {
	if err := d.send(append(proto.PutOption(nil, opt, uint32(len(data))), data...)); err != nil {
		return 0, nil, err
	}
	return d.optReply(opt)
}

// optReply reads one option reply.
func (d *Disk) optReply(opt uint32) (uint32, []byte, error) {
	var h [proto.OptReplyHeader]byte
	if _, err := io.ReadFull(d.br, h[:]); err != nil {
		return 0, nil, fmt.Errorf("option %d: %w", opt, err)
	}
	if be.Uint64(h[:]) != proto.OptReplyMagic || be.Uint32(h[8:]) != opt {
		return 0, nil, fmt.Errorf("option %d: bad reply header % x", opt, h)
	}
	n := be.Uint32(h[16:])
	if n > 1<<20 {
		return 0, nil, fmt.Errorf("option %d: reply of %d bytes", opt, n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(d.br, data); err != nil {
		return 0, nil, fmt.Errorf("option %d: %w", opt, err)
	}
	return be.Uint32(h[12:]), data, nil
}

func (d *Disk) send(b []byte) error {
	if _, err := d.bw.Write(b); err != nil {
		return err
	}
	return d.bw.Flush()
}
