package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// Server answers control requests on a Unix socket with a Handler.
type Server struct {
	h   Handler
	log *slog.Logger
	uid int // peers must run as this uid or as root
	wg  sync.WaitGroup
}

// NewServer makes a server for h; log may be nil (slog.Default).
func NewServer(h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	return &Server{h: h, log: log, uid: os.Geteuid()}
}

// Listen creates the control socket at path with mode 0600, replacing a
// stale one (the name holds our pid, so whatever is there is left over
// from a dead process that had it). Closing the listener removes it.
func Listen(path string) (*net.UnixListener, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove stale control socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Serve accepts connections until ctx is done, then closes the listener,
// cancels the operations in progress, lets their replies go out (the
// reply to the detach that made tapdisk exit, say) and closes every
// connection; it returns nil once they are all finished. It returns an error only if accepting
// fails otherwise.
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer s.wg.Wait()
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("control accept: %w", err)
		}
		s.wg.Go(func() {
			defer c.Close()
			stop := context.AfterFunc(ctx, func() { hangUp(c) })
			defer stop()
			s.serveConn(ctx, c)
		})
	}
}

// replyGrace bounds how long a reply may take to go out once the server
// is stopping, should the client not read it.
const replyGrace = time.Second

// hangUp ends a connection at the server's stop: a blocked read fails at
// once, so the connection ends after the reply it is working on.
func hangUp(c *net.UnixConn) {
	c.SetReadDeadline(time.Now())
	c.SetWriteDeadline(time.Now().Add(replyGrace))
}
