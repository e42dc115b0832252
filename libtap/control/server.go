package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"time"

	"gotap.dev/libtap/accept"
	"gotap.dev/libtap/ratelog"
)

// Server answers control requests on a Unix socket with a Handler.
type Server struct {
	h    Handler
	log  *slog.Logger
	uid  int // peers must run as this uid or as root
	max  int
	idle time.Duration
	// refused rate-limits the line about each refused peer: another
	// user may open thousands of connections a second.
	refused *ratelog.Limiter
}

// Options configure a Server; zero fields take the defaults.
type Options struct {
	Log *slog.Logger // nil: slog.Default()
	// MaxConns is how many connections are served at once
	// (DefaultMaxConns); one more is closed at once.
	MaxConns int
	// IdleTimeout is how long a client may take to send each request
	// and to take each reply (DefaultIdleTimeout): one that idles longer
	// is hung up, and its slot goes to the next.
	IdleTimeout time.Duration
}

// The defaults: room for tap-ctl, tapmon and a few scripts at once. A
// minute between requests is plenty for a client that works between
// them (xmsnap creates a snapshot between pause and resume); peers of
// another uid are refused at once, so they hold a slot only that long.
const (
	DefaultMaxConns    = 16
	DefaultIdleTimeout = time.Minute
)

// NewServer makes a server for h.
func NewServer(h Handler, opts Options) *Server {
	s := &Server{h: h, log: opts.Log, uid: os.Geteuid(), max: opts.MaxConns, idle: opts.IdleTimeout}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.max <= 0 {
		s.max = DefaultMaxConns
	}
	if s.idle <= 0 {
		s.idle = DefaultIdleTimeout
	}
	s.refused = ratelog.New(s.log, msgRefused, 1, 10*time.Second)
	return s
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
// connection; it returns once they are all finished. Accept errors (out
// of file descriptors) never end it (package accept).
func (s *Server) Serve(ctx context.Context, ln *net.UnixListener) {
	opts := accept.Options{Max: s.max, Handshake: s.idle, Admit: s.admit, Log: s.log.With("frontend", "control")}
	accept.Serve(ctx, ln, opts, func(nc net.Conn) {
		c, ok := nc.(*net.UnixConn)
		if !ok {
			return // a Unix listener accepts nothing else
		}
		stop := context.AfterFunc(ctx, func() { hangUp(c) })
		defer stop()
		s.serveConn(ctx, c)
	})
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

// awaitRequest gives the client the idle timeout to send its next
// request; once the server is stopping, hangUp's deadlines stand.
func (s *Server) awaitRequest(ctx context.Context, c *net.UnixConn) {
	c.SetReadDeadline(time.Now().Add(s.idle))
	if ctx.Err() != nil {
		hangUp(c)
	}
}

// awaitReply gives the client the idle timeout to take the reply about
// to be written (a watch's too); once the server is stopping, hangUp's
// deadlines stand.
func (s *Server) awaitReply(ctx context.Context, c *net.UnixConn) {
	c.SetWriteDeadline(time.Now().Add(s.idle))
	if ctx.Err() != nil {
		hangUp(c)
	}
}
