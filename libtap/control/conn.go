package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"syscall"
	"time"
)

// errLineTooLong: a request line exceeded MaxLine.
var errLineTooLong = Errorf(syscall.EMSGSIZE, "request line longer than %d bytes", MaxLine)

// serveConn answers the requests of one connection (a peer admit let
// in), one line at a time, until the client hangs up, a watch ends, or a
// line is too long to trust what follows it.
func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	r := bufio.NewReader(c)
	for {
		s.awaitRequest(ctx, c)
		line, readErr := readLine(r)
		if errors.Is(readErr, errLineTooLong) {
			s.write(ctx, c, nil, nil, readErr)
			return
		}
		if line = bytes.TrimSpace(line); len(line) > 0 && !s.request(ctx, c, line) {
			return
		}
		if readErr != nil {
			return
		}
	}
}

// readLine reads up to and including '\n' (or to EOF), refusing lines
// longer than MaxLine without buffering them.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > MaxLine+1 { // +1: the newline
			return nil, errLineTooLong
		}
		line = append(line, chunk...)
		if !errors.Is(err, bufio.ErrBufferFull) {
			return line, err
		}
	}
}

// request answers one line; false ends the connection.
func (s *Server) request(ctx context.Context, c *net.UnixConn, line []byte) bool {
	var h Header
	if err := json.Unmarshal(line, &h); err != nil {
		return s.write(ctx, c, nil, nil, Errorf(syscall.EINVAL, "malformed request: %v", err))
	}
	switch {
	case h.V != 0 && h.V != Version:
		return s.write(ctx, c, h.ID, nil, Errorf(syscall.EPROTONOSUPPORT, "protocol version %d: this tapdisk speaks %d", h.V, Version))
	case h.Op == "":
		return s.write(ctx, c, h.ID, nil, Errorf(syscall.EINVAL, `request has no "op"`))
	case h.Op == OpWatch:
		return s.watch(ctx, c, h.ID, line)
	}
	op, ok := ops[h.Op]
	if !ok {
		return s.write(ctx, c, h.ID, nil, Errorf(syscall.ENOSYS, "unknown op %q", h.Op))
	}
	start := time.Now()
	result, err := op(ctx, s.h, line)
	s.log.Debug("control request", "op", h.Op, "id", string(h.ID), "took", time.Since(start), "err", err)
	return s.write(ctx, c, h.ID, result, err)
}

// write sends one reply: result, or err as errno and message. It reports
// whether the connection is still usable.
func (s *Server) write(ctx context.Context, c *net.UnixConn, id json.RawMessage, result any, err error) bool {
	s.awaitReply(ctx, c)
	if _, werr := c.Write(encode(id, result, err)); werr != nil {
		s.log.Debug("control reply not sent", "err", werr)
		return false
	}
	return true
}

// encode is one reply line: result, or err as errno and message.
func encode(id json.RawMessage, result any, err error) []byte {
	rep := Reply{V: Version, ID: id, OK: err == nil}
	if err != nil {
		e := asError(err)
		rep.Errno, rep.Error = errnoName(e.Errno), e.Msg
	} else if result != nil {
		b, merr := json.Marshal(result)
		if merr != nil {
			return encode(id, nil, merr)
		}
		rep.Result = b
	}
	b, _ := json.Marshal(rep) // a Reply of raw JSON and strings always marshals
	return append(b, '\n')
}
