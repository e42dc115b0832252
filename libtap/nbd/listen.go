package nbd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
)

// DefaultAddr is where ListenTCP listens when given no address: NBD's
// port on loopback only.
const DefaultAddr = "127.0.0.1:10809"

// ListenTCP listens for NBD clients on addr (DefaultAddr if empty). A
// non-loopback address is refused unless tlsCfg is given: nothing is
// exposed beyond this machine unless asked, and then only with TLS. Serve
// decides who may connect (needTLS).
func ListenTCP(addr string, tlsCfg *tls.Config) (net.Listener, error) {
	if addr == "" {
		addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("nbd: listen address %q: %w", addr, err)
	}
	if !loopbackHost(host) && tlsCfg == nil {
		return nil, fmt.Errorf("nbd: refusing to listen on %s without TLS: not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("nbd: %w", err)
	}
	return ln, nil
}

// ErrUnauthenticated: Serve was given a TCP listener whose clients it
// would not authenticate, and Options.InsecureTCP does not allow that.
var ErrUnauthenticated = errors.New("clients would not be authenticated")

// needTLS decides whether the clients of a listener at a must start TLS,
// and refuses a TCP listener that would let in clients nobody vouched
// for. Loopback is no protection: every local user can reach it. So a
// TCP listener needs TLS that verifies client certificates, unless
// InsecureTCP; and even then nothing goes in clear beyond loopback. On a
// TCP listener with TLS, TLS is always required: a client in clear
// would skip the certificate check. Unix sockets check the peer's
// credentials instead (admit), and require TLS only if asked to.
func (s *Server) needTLS(a net.Addr) (bool, error) {
	if _, ok := a.(*net.TCPAddr); !ok {
		return s.opts.TLSRequired, nil
	}
	cfg := s.opts.TLS
	switch {
	case cfg == nil && nonLoopbackTCP(a):
		return false, fmt.Errorf("nbd: refusing to serve %s without TLS: not a loopback address", a)
	case cfg == nil && !s.opts.InsecureTCP:
		return false, fmt.Errorf("nbd: refusing to serve %s without TLS: any local user could read and write: %w", a, ErrUnauthenticated)
	case cfg != nil && !VerifiesClients(cfg) && !s.opts.InsecureTCP:
		return false, fmt.Errorf("nbd: refusing to serve %s: its TLS does not verify client certificates: %w", a, ErrUnauthenticated)
	}
	return cfg != nil, nil
}

// loopbackHost reports whether host names only this machine. An empty
// host (all interfaces) does not.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// nonLoopbackTCP reports whether a listener is reachable from other
// machines.
func nonLoopbackTCP(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && !t.IP.IsLoopback()
}
