// Package nbd serves virtual disks over the Network Block Device
// protocol; the protocol's wire format is package wire, below it, which
// the nbd: client driver shares.
//
// A Server has named exports (a *vbd.VBD each) and serves them on any
// listener: a Unix socket per VBD (tapdisk), whose peers must be root or
// the server's own user (peer.go), or TCP (ListenTCP), whose clients
// must present a certificate TLS verifies unless made insecure
// (listen.go, tlsconfig.go). Each connection negotiates in fixed newstyle
// (handshake.go), then a reader goroutine reads every request straight
// into a ring slot and submits it; the connection is the slot's Owner, so
// completions hand the slot to the connection's writer goroutine, which
// sends replies in completion order and flushes when none is pending,
// or, for the connection's only request in flight, send its reply
// straight away (conn.go, reply.go). The ring's fixed size is the back-pressure: a
// reader waits for a free slot before reading more.
package nbd

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"gotap.dev/libtap/accept"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/ratelog"
	"gotap.dev/libtap/ring"
)

// Export is a disk served over NBD; *vbd.VBD implements it.
type Export interface {
	Size() int64
	Caps() disk.Caps
	Ring() *ring.Ring
	// Submit checks and queues a request: range, alignment and
	// read-only are its rules, not the server's.
	Submit(*ring.Request)
}

// BatchSubmitter is an Export that also takes requests that arrived
// together in one call (the VBD: one io_uring submission for them all).
// A connection gives it the requests of each socket read as one batch.
type BatchSubmitter interface {
	SubmitBatch([]*ring.Request)
}

// NewBatch is a batch of at most max requests for e: submitted together
// where e is a BatchSubmitter, one by one where not.
func NewBatch(e Export, max int) *ring.Batch {
	if b, ok := e.(BatchSubmitter); ok {
		return ring.NewBatch(e.Submit, b.SubmitBatch, max)
	}
	return ring.NewBatch(e.Submit, nil, max)
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
	// MaxConns is how many connections each listener serves at once
	// (DefaultMaxConns); one more is closed at once.
	MaxConns int
	// HandshakeTimeout bounds a client's negotiation, from its
	// connection to the start of transmission (DefaultHandshakeTimeout).
	// Transmission has no deadline: a client may stay idle as long as it
	// likes, and MaxConns bounds how many do.
	HandshakeTimeout time.Duration
	// IdlePoll is how long a connection with nothing in flight spins for
	// its client's next request before its goroutine sleeps, while the
	// client keeps coming back that fast (see idlepoll); 0 never spins.
	IdlePoll time.Duration
}

// The defaults: far more connections than any client makes to one disk
// (QEMU's multi-conn, nbdcopy and fio use a handful), and a negotiation
// takes a few round trips, well under a second even with TLS.
const (
	DefaultMaxConns         = 64
	DefaultHandshakeTimeout = 10 * time.Second
)

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
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
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
// them and returns. Accept errors (out of file descriptors) never end it
// (package accept); peers admit refuses take no connection slot.
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

	opts := accept.Options{
		Max: s.opts.MaxConns, Handshake: s.opts.HandshakeTimeout,
		Admit: s.admit, Log: s.log,
	}
	accept.Serve(ctx, ln, opts, func(nc net.Conn) {
		c := newConn(s, nc, needTLS)
		if !s.track(c) {
			return
		}
		defer s.untrack(c)
		stop := context.AfterFunc(ctx, c.drain)
		defer stop()
		c.serve()
	})
	s.mu.Lock()
	delete(s.listeners, ln)
	s.mu.Unlock()
	return nil
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

// negotiated lifts the handshake deadline once the client is in
// transmission. A drain that came meanwhile stands: drain sets draining
// before its deadlines, so either it sees the deadline lifted or this
// sees draining.
func (c *conn) negotiated() {
	c.raw.SetDeadline(time.Time{})
	if c.draining.Load() {
		c.drain()
	}
}
