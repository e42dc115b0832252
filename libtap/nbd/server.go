// Package nbd serves virtual disks over the Network Block Device
// protocol, and holds the protocol's wire format for the nbd: client
// driver too.
//
// A Server has named exports (a *vbd.VBD each) and serves them on any
// listener: a Unix socket per VBD (tapdisk), whose peers must be root or
// the server's own user (peer.go), or TCP (ListenTCP), whose clients
// must present a certificate TLS verifies unless made insecure
// (listen.go, tlsconfig.go). Each connection negotiates in fixed newstyle
// (handshake.go), then a reader goroutine reads every request straight
// into a ring slot and submits it; the connection is the slot's Owner, so
// completions hand the slot to the connection's writer goroutine, which
// sends replies in completion order and flushes when none is pending
// (conn.go, reply.go). The ring's fixed size is the back-pressure: a
// reader waits for a free slot before reading more.
package nbd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/ratelog"
	"gotap.dev/libtap/ring"
)

// Export is a disk served over NBD; *vbd.VBD implements it.
type Export interface {
	Size() int64
	Caps() disk.Caps
	Ring() *ring.Ring
	Submit(*ring.Request)
	Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error)
}

// Options configure a Server.
type Options struct {
	Logger *slog.Logger
	TLS    *tls.Config // enables NBD_OPT_STARTTLS
	// TLSRequired refuses everything but STARTTLS and ABORT before TLS.
	// On TCP, TLS is always required when configured (needTLS).
	TLSRequired bool
	// InsecureTCP lets a TCP listener serve clients it does not
	// authenticate (in clear on loopback, or TLS that verifies no client
	// certificate): anyone who can connect then reads and writes every
	// export. Without it Serve refuses such a listener.
	InsecureTCP bool
}

// Server serves exports to NBD clients.
type Server struct {
	opts Options
	log  *slog.Logger
	uid  int // Unix-socket peers must run as this uid or as root (admit)
	// refused rate-limits the line about each client turned away: a
	// local user, or anyone over TCP, may try thousands a second.
	refused *ratelog.Limiter

	mu        sync.Mutex
	exports   map[string]Export
	conns     map[*conn]struct{}
	listeners map[net.Listener]struct{}
	down      bool // Shutdown was called
}

// NewServer makes a server with no exports.
func NewServer(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger.With("frontend", "nbd"),
		uid:       os.Geteuid(),
		exports:   make(map[string]Export),
		conns:     make(map[*conn]struct{}),
		listeners: make(map[net.Listener]struct{}),
	}
	s.refused = ratelog.New(s.log, msgRefused, 1, refusedEvery)
	return s
}

// Add serves e under name. A server with a single export serves it under
// any name, so that clients need not know it.
func (s *Server) Add(name string, e Export) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exports[name] = e
}

// Remove stops serving name: its connections stop reading requests, the
// requests in flight complete and are answered, then the connections
// close. Remove returns once they are closed.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	delete(s.exports, name)
	s.mu.Unlock()
	waitClosed(context.Background(), s.drainWhere(func(c *conn) bool { return c.name == name }))
}

// lookup finds the export a client names; with attach, c is now
// serving it (and Remove of that name closes c).
func (s *Server) lookup(c *conn, name string, attach bool) (Export, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.exports[name]
	if !ok && len(s.exports) == 1 {
		for name, e = range s.exports {
			ok = true
		}
	}
	if ok && attach {
		c.name = name
	}
	return e, ok
}

// names lists the exports (NBD_OPT_LIST).
func (s *Server) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.exports))
	for n := range s.exports {
		names = append(names, n)
	}
	return names
}

// Serve accepts connections on ln until ctx is done or ln is closed; then
// it lets the connections it accepted finish what is in flight, closes
// them and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	needTLS, err := s.needTLS(ln.Addr())
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()

	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var mine sync.WaitGroup
	defer mine.Wait()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			delete(s.listeners, ln)
			s.mu.Unlock()
			if ctx.Err() != nil {
				waitClosed(context.Background(), s.drainWhere(func(c *conn) bool { return c.ln == ln }))
			}
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("nbd: accept on %s: %w", ln.Addr(), err)
		}
		if !s.admit(nc) {
			continue
		}
		c := newConn(s, ln, nc, needTLS)
		if !s.track(c) {
			nc.Close()
			continue
		}
		mine.Add(1)
		go func() {
			defer mine.Done()
			defer s.untrack(c)
			c.serve()
		}()
	}
}

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// drainWhere drains the connections pred selects (under s.mu) and
// returns them.
func (s *Server) drainWhere(pred func(*conn) bool) []*conn {
	s.mu.Lock()
	var cs []*conn
	for c := range s.conns {
		if pred(c) {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.drain()
	}
	return cs
}

// waitClosed waits for the connections to close; when ctx ends first it
// closes them at once.
func waitClosed(ctx context.Context, cs []*conn) error {
	for _, c := range cs {
		select {
		case <-c.closed:
		case <-ctx.Done():
			for _, c := range cs {
				c.abort()
			}
			for _, c := range cs {
				<-c.closed
			}
			return ctx.Err()
		}
	}
	return nil
}

// Shutdown stops accepting, lets in-flight requests finish and their
// replies go out, and closes every connection. When ctx ends first, the
// connections are closed at once and ctx's error returned.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.down = true
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	return waitClosed(ctx, s.drainWhere(func(*conn) bool { return true }))
}
