package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// Client speaks the control protocol to one tapdisk. Its methods may be
// called from several goroutines; requests go one at a time.
type Client struct {
	path string

	mu     sync.Mutex // one request at a time; guards below
	conn   *net.UnixConn
	r      *bufio.Reader
	nextID uint64
	broken error // set when a reply was lost mid-way: the stream is out of step
}

// Dial connects to the control socket at path.
func Dial(path string) (*Client, error) {
	conn, r, err := dial(path)
	if err != nil {
		return nil, err
	}
	return &Client{path: path, conn: conn, r: r}, nil
}

func dial(path string) (*net.UnixConn, *bufio.Reader, error) {
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, nil, fmt.Errorf("control dial: %w", err)
	}
	return conn, bufio.NewReaderSize(conn, MaxLine), nil
}

// Disconnect hangs up. (Close is the operation that closes an image.)
func (c *Client) Disconnect() error { return c.conn.Close() }

// call sends req as op and decodes the reply's result into result (if
// not nil). A refused request is an *Error.
func (c *Client) call(ctx context.Context, op string, req request, result any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return c.broken
	}
	c.nextID++
	h := req.header()
	h.V, h.Op, h.ID = Version, op, strconv.AppendUint(nil, c.nextID, 10)
	stop := interruptOnDone(ctx, c.conn)
	defer stop()
	err := send(ctx, c.conn, req)
	var rep *Reply
	if err == nil {
		rep, err = readReply(ctx, c.r)
	}
	if err != nil {
		// A reply may still be on its way: later ones would be read as
		// answers to the wrong requests.
		c.broken = fmt.Errorf("control %s: connection unusable after: %w", op, err)
		c.conn.Close()
		return fmt.Errorf("control %s: %w", op, err)
	}
	if string(rep.ID) != string(h.ID) {
		c.broken = fmt.Errorf("control %s: reply id %s to request %s", op, rep.ID, h.ID)
		return c.broken
	}
	return decodeResult(rep, result)
}

// interruptOnDone makes blocked I/O on conn fail once ctx is done (at its
// deadline too). The connection is then out of step and must be closed.
func interruptOnDone(ctx context.Context, conn *net.UnixConn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// send writes one request line.
func send(ctx context.Context, conn *net.UnixConn, req any) error {
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(line, '\n')); err != nil {
		return ctxOr(ctx, err)
	}
	return nil
}

// readReply reads one reply line.
func readReply(ctx context.Context, r *bufio.Reader) (*Reply, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, ctxOr(ctx, err)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return nil, fmt.Errorf("malformed reply: %w", err)
	}
	return &rep, nil
}

// ctxOr prefers the context's error to the I/O error it caused.
func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// decodeResult turns a reply into result or an *Error.
func decodeResult(rep *Reply, result any) error {
	if !rep.OK {
		return &Error{Errno: errnoValue(rep.Errno), Msg: rep.Error}
	}
	if result == nil || len(rep.Result) == 0 {
		return nil
	}
	if err := json.Unmarshal(rep.Result, result); err != nil {
		return fmt.Errorf("malformed result: %w", err)
	}
	return nil
}

// ErrStopWatch ends a watch without an error: a Watch callback returns
// it, and Watch returns nil.
var ErrStopWatch = errors.New("stop watching")
