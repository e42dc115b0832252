package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"gotap.dev/libtap/nbd/wire"
)

// maxOptionData bounds an option's data: export names and queries are
// strings of at most wire.MaxString bytes; anything longer is refused
// unread.
const maxOptionData = 64 << 10

// blockSize is what the server states of every export: 512 bytes is the
// sector every driver addresses, 32 MiB the largest request a ring slot
// carries (the sizes the protocol advises clients anyway).
var blockSize = wire.BlockSize{Min: wire.MinBlock, Preferred: wire.PreferredBlock, Max: wire.MaxBlock}

var errAborted = errors.New("client aborted negotiation")

// handshake runs fixed newstyle negotiation until the client picks an
// export (NBD_OPT_GO or NBD_OPT_EXPORT_NAME), aborts, or breaks the
// protocol.
func (c *conn) handshake() error {
	if err := c.send(wire.Greeting{Flags: wire.FlagFixedNewstyle | wire.FlagNoZeroes}.Append(nil)); err != nil {
		return err
	}
	var cf [4]byte
	if _, err := io.ReadFull(c.br, cf[:]); err != nil {
		return fmt.Errorf("read client flags: %w", err)
	}
	flags := binary.BigEndian.Uint32(cf[:])
	if flags&^(wire.ClientFixedNewstyle|wire.ClientNoZeroes) != 0 {
		return fmt.Errorf("unknown client flags %#x", flags)
	}
	c.noZeroes = flags&wire.ClientNoZeroes != 0
	for {
		var b [wire.OptionHeaderSize]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return fmt.Errorf("read option: %w", err)
		}
		var h wire.OptionHeader
		if !h.Parse(&b) {
			return errors.New("bad option magic: protocol violation")
		}
		if h.Length > maxOptionData {
			if _, err := io.CopyN(io.Discard, c.br, int64(h.Length)); err != nil {
				return fmt.Errorf("skip option data: %w", err)
			}
			if err := c.optError(h.Opt, wire.RepErrTooBig, "option data too long"); err != nil {
				return err
			}
			continue
		}
		data := make([]byte, h.Length)
		if _, err := io.ReadFull(c.br, data); err != nil {
			return fmt.Errorf("read option data: %w", err)
		}
		done, err := c.option(h.Opt, data)
		if err != nil || done {
			return err
		}
	}
}

// option answers one option; done means transmission starts.
func (c *conn) option(opt uint32, data []byte) (done bool, err error) {
	if c.needTLS && !c.tls && opt != wire.OptStartTLS && opt != wire.OptAbort {
		if opt == wire.OptExportName {
			return false, errors.New("NBD_OPT_EXPORT_NAME before the required TLS")
		}
		return false, c.optError(opt, wire.RepErrTLSReqd, "TLS is required: use NBD_OPT_STARTTLS")
	}
	switch opt {
	case wire.OptExportName:
		return true, c.exportName(string(data))
	case wire.OptAbort:
		c.optReply(opt, wire.RepAck, nil)
		return false, errAborted
	case wire.OptList:
		return false, c.list(data)
	case wire.OptStartTLS:
		return false, c.startTLS(data)
	case wire.OptInfo, wire.OptGo:
		return c.infoGo(opt, data)
	case wire.OptStructuredReply:
		if len(data) != 0 {
			return false, c.optError(opt, wire.RepErrInvalid, "NBD_OPT_STRUCTURED_REPLY takes no data")
		}
		c.structured = true
		return false, c.optReply(opt, wire.RepAck, nil)
	case wire.OptListMetaContext, wire.OptSetMetaContext:
		return false, c.metaContext(opt, data)
	}
	return false, c.optError(opt, wire.RepErrUnsup, fmt.Sprintf("option %d is not supported", opt))
}

// transmissionFlags are what c may do with e: CAN_MULTI_CONN holds
// because every connection shares the export's one driver, so a flush on
// any covers all completed writes.
func (c *conn) transmissionFlags(e Export) uint16 {
	f := wire.FlagHasFlags | wire.FlagSendFlush | wire.FlagSendCache | wire.FlagCanMultiConn
	if c.structured {
		f |= wire.FlagSendDF // every read is answered in one chunk
	}
	if e.Caps().ReadOnly {
		return f | wire.FlagReadOnly
	}
	return f | wire.FlagSendFUA | wire.FlagSendTrim | wire.FlagSendWriteZeroes | wire.FlagSendFastZero
}

// exportName ends negotiation the old way: no error can be reported, so
// an unknown export closes the connection.
func (c *conn) exportName(name string) error {
	e, ok := c.srv.lookup(c, name, true)
	if !ok {
		return fmt.Errorf("NBD_OPT_EXPORT_NAME: no export %q", name)
	}
	c.exp, c.flags = e, c.transmissionFlags(e)
	b := wire.Export{Size: uint64(e.Size()), Flags: c.flags}.Append(nil)
	if !c.noZeroes {
		b = append(b, make([]byte, wire.ExportPadding)...)
	}
	return c.send(b)
}

// infoGo answers NBD_OPT_INFO and NBD_OPT_GO: the export's size and
// flags and the block sizes, whatever the client asked for (it must
// ignore what it does not understand).
func (c *conn) infoGo(opt uint32, data []byte) (bool, error) {
	name, _, ok := wire.ParseExportQuery(data)
	if !ok {
		return false, c.optError(opt, wire.RepErrInvalid, "malformed export request")
	}
	e, ok := c.srv.lookup(c, name, opt == wire.OptGo)
	if !ok {
		return false, c.optError(opt, wire.RepErrUnknown, fmt.Sprintf("no export %q", name))
	}
	flags := c.transmissionFlags(e)
	if err := c.optReply(opt, wire.RepInfo, wire.Export{Size: uint64(e.Size()), Flags: flags}.AppendInfo(nil)); err != nil {
		return false, err
	}
	if err := c.optReply(opt, wire.RepInfo, blockSize.AppendInfo(nil)); err != nil {
		return false, err
	}
	if err := c.optReply(opt, wire.RepAck, nil); err != nil {
		return false, err
	}
	if opt == wire.OptGo {
		c.exp, c.flags = e, flags
		return true, nil
	}
	return false, nil
}

// list answers NBD_OPT_LIST with every export's name.
func (c *conn) list(data []byte) error {
	if len(data) != 0 {
		return c.optError(wire.OptList, wire.RepErrInvalid, "NBD_OPT_LIST takes no data")
	}
	for _, name := range c.srv.names() {
		if err := c.optReply(wire.OptList, wire.RepServer, wire.AppendString32(nil, name)); err != nil {
			return err
		}
	}
	return c.optReply(wire.OptList, wire.RepAck, nil)
}

// optReply sends one option reply and flushes it.
func (c *conn) optReply(opt, typ uint32, data []byte) error {
	b := wire.OptionReply{Opt: opt, Type: typ, Length: uint32(len(data))}.Append(make([]byte, 0, wire.OptionReplySize+len(data)))
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
