package nbd

import (
	"crypto/tls"
	"errors"
	"fmt"

	"gotap.dev/libtap/nbd/wire"
)

// startTLS answers NBD_OPT_STARTTLS: acknowledge, then run the TLS
// handshake on the socket and go on negotiating inside it, with every
// earlier negotiated state forgotten, as the protocol requires.
func (c *conn) startTLS(data []byte) error {
	cfg := c.srv.opts.TLS
	switch {
	case cfg == nil:
		return c.optError(wire.OptStartTLS, wire.RepErrUnsup, "TLS is not configured")
	case c.tls:
		return c.optError(wire.OptStartTLS, wire.RepErrInvalid, "TLS is already on")
	case len(data) != 0:
		return c.optError(wire.OptStartTLS, wire.RepErrInvalid, "NBD_OPT_STARTTLS takes no data")
	}
	if err := c.optReply(wire.OptStartTLS, wire.RepAck, nil); err != nil {
		return err
	}
	if c.br.Buffered() != 0 {
		// Plain text sent before TLS could be injected by anyone.
		return errors.New("data sent before the TLS handshake")
	}
	tc := tls.Server(c.raw, cfg)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		// Where a client without a valid certificate is turned away:
		// worth more than the debug line every ended negotiation gets.
		c.srv.logRefused(c.raw.RemoteAddr(), err)
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.br.Reset(tc)
	c.bw.Reset(tc)
	c.tls = true
	c.structured, c.allocation = false, false
	return nil
}
