package nbd

import (
	"crypto/tls"
	"fmt"
	"net"
)

// DefaultAddr is where ListenTCP listens when given no address: NBD's
// port on loopback only.
const DefaultAddr = "127.0.0.1:10809"

// ListenTCP listens for NBD clients on addr (DefaultAddr if empty). A
// non-loopback address is refused unless tlsCfg is given: nothing is
// exposed beyond this machine unless asked, and then only with TLS (Serve
// requires STARTTLS on such a listener).
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
