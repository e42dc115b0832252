package nbd

import (
	"errors"
	"fmt"
	"io"
)

// maxOptionData bounds an option's data: export names and queries are
// strings of at most 4096 bytes; anything longer is refused unread.
const maxOptionData = 64 << 10

var errAborted = errors.New("client aborted negotiation")

// handshake runs fixed newstyle negotiation until the client picks an
// export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME), aborts, or breaks the
// protocol.
func (c *conn) handshake() error {
	b := make([]byte, 0, 18)
	b = be.AppendUint64(b, InitMagic)
	b = be.AppendUint64(b, OptMagic)
	b = be.AppendUint16(b, FlagFixedNewstyle|FlagNoZeroes)
	if err := c.send(b); err != nil {
		return err
	}
	var cf [4]byte
	if _, err := io.ReadFull(c.br, cf[:]); err != nil {
		return fmt.Errorf("read client flags: %w", err)
	}
	flags := be.Uint32(cf[:])
	if flags&^(ClientFixedNewstyle|ClientNoZeroes) != 0 {
		return fmt.Errorf("unknown client flags %#x", flags)
	}
	c.noZeroes = flags&ClientNoZeroes != 0
	for {
		var h [OptionHeaderSize]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return fmt.Errorf("read option: %w", err)
		}
		if be.Uint64(h[:]) != OptMagic {
			return errors.New("bad option magic: protocol violation")
		}
		opt, n := be.Uint32(h[8:]), be.Uint32(h[12:])
		if n > maxOptionData {
			if _, err := io.CopyN(io.Discard, c.br, int64(n)); err != nil {
				return fmt.Errorf("skip option data: %w", err)
			}
			if err := c.optError(opt, RepErrTooBig, "option data too long"); err != nil {
				return err
			}
			continue
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(c.br, data); err != nil {
			return fmt.Errorf("read option data: %w", err)
		}
		done, err := c.option(opt, data)
		if err != nil || done {
			return err
		}
	}
}

// option answers one option; done means transmission starts.
func (c *conn) option(opt uint32, data []byte) (done bool, err error) {
	if c.needTLS && !c.tls && opt != OptStartTLS && opt != OptAbort {
		if opt == OptExportName {
			return false, errors.New("NBD_OPT_EXPORT_NAME before the required TLS")
		}
		return false, c.optError(opt, RepErrTLSReqd, "TLS is required: use NBD_OPT_STARTTLS")
	}
	switch opt {
	case OptExportName:
		return true, c.exportName(string(data))
	case OptAbort:
		c.optReply(opt, RepAck, nil)
		return false, errAborted
	case OptList:
		return false, c.list(data)
	case OptStartTLS:
		return false, c.startTLS(data)
	case OptInfo, OptGo:
		return c.infoGo(opt, data)
	case OptStructuredReply:
		if len(data) != 0 {
			return false, c.optError(opt, RepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data")
		}
		c.structured = true
		return false, c.optReply(opt, RepAck, nil)
	case OptListMetaContext, OptSetMetaContext:
		return false, c.metaContext(opt, data)
	}
	return false, c.optError(opt, RepErrUnsup, fmt.Sprintf("option %d is not supported", opt))
}

// transmissionFlags are what c may do with e: CAN_MULTI_CONN holds
// because every connection shares the export's one driver, so a flush on
// any covers all completed writes.
func (c *conn) transmissionFlags(e Export) uint16 {
	f := FlagHasFlags | FlagSendFlush | FlagSendCache | FlagCanMultiConn
	if c.structured {
		f |= FlagSendDF // every read is answered in one chunk
	}
	if e.Caps().ReadOnly {
		return f | FlagReadOnly
	}
	return f | FlagSendFUA | FlagSendTrim | FlagSendWriteZeroes | FlagSendFastZero
}

// exportName ends negotiation the old way: no error can be reported, so
// an unknown export closes the connection.
func (c *conn) exportName(name string) error {
	e, ok := c.srv.lookup(c, name, true)
	if !ok {
		return fmt.Errorf("NBD_OPT_EXPORT_NAME: no export %q", name)
	}
	c.exp, c.flags = e, c.transmissionFlags(e)
	b := make([]byte, 0, 10+124)
	b = be.AppendUint64(b, uint64(e.Size()))
	b = be.AppendUint16(b, c.flags)
	if !c.noZeroes {
		b = append(b, make([]byte, 124)...)
	}
	return c.send(b)
}

// infoGo answers NBD_OPT_INFO and NBD_OPT_GO: the export's size and
// flags and the block sizes, whatever the client asked for (it must
// ignore what it does not understand).
func (c *conn) infoGo(opt uint32, data []byte) (bool, error) {
	name, rest, ok := cutString32(data)
	if !ok || len(rest) < 2 || len(rest) != 2+2*int(be.Uint16(rest)) {
		return false, c.optError(opt, RepErrInvalid, "malformed export request")
	}
	e, ok := c.srv.lookup(c, name, opt == OptGo)
	if !ok {
		return false, c.optError(opt, RepErrUnknown, fmt.Sprintf("no export %q", name))
	}
	flags := c.transmissionFlags(e)
	info := be.AppendUint16(nil, InfoExport)
	info = be.AppendUint64(info, uint64(e.Size()))
	info = be.AppendUint16(info, flags)
	if err := c.optReply(opt, RepInfo, info); err != nil {
		return false, err
	}
	info = be.AppendUint16(info[:0], InfoBlockSize)
	info = be.AppendUint32(info, MinBlock)
	info = be.AppendUint32(info, PreferredBlock)
	info = be.AppendUint32(info, MaxBlock)
	if err := c.optReply(opt, RepInfo, info); err != nil {
		return false, err
	}
	if err := c.optReply(opt, RepAck, nil); err != nil {
		return false, err
	}
	if opt == OptGo {
		c.exp, c.flags = e, flags
		return true, nil
	}
	return false, nil
}

// list answers NBD_OPT_LIST with every export's name.
func (c *conn) list(data []byte) error {
	if len(data) != 0 {
		return c.optError(OptList, RepErrInvalid, "NBD_OPT_LIST takes no data")
	}
	for _, name := range c.srv.names() {
		b := be.AppendUint32(nil, uint32(len(name)))
		if err := c.optReply(OptList, RepServer, append(b, name...)); err != nil {
			return err
		}
	}
	return c.optReply(OptList, RepAck, nil)
}

// cutString32 splits a 32-bit length-prefixed string off b.
func cutString32(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 4 || uint64(len(b)-4) < uint64(be.Uint32(b)) {
		return "", nil, false
	}
	n := 4 + int(be.Uint32(b))
	return string(b[4:n]), b[n:], true
}

// optReply sends one option reply and flushes it.
func (c *conn) optReply(opt, typ uint32, data []byte) error {
	b := PutOptReply(make([]byte, 0, OptReplyHeader+len(data)), opt, typ, uint32(len(data)))
	return c.send(append(b, data...))
}

// optError sends an error reply with a message for humans.
func (c *conn) optError(opt, typ uint32, msg string) error {
	return c.optReply(opt, typ, []byte(msg))
}

func (c *conn) send(b []byte) error {
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	return c.bw.Flush()
}
