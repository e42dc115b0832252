package nbd

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
)

// TestNeedTLS: who Serve lets a listener serve. Over TCP, only clients
// with a verified certificate, unless made insecure; nothing in clear
// beyond loopback in any case.
func TestNeedTLS(t *testing.T) {
	serverOnly := &tls.Config{}
	verifying := &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: x509.NewCertPool()}
	perClient := verifying.Clone()
	perClient.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return serverOnly, nil }
	unix := &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10809}
	anyHost := &net.TCPAddr{IP: net.IPv4zero, Port: 10809}
	tests := []struct {
		name    string
		addr    net.Addr
		opts    Options
		wantTLS bool
		wantErr bool
	}{
		{"unix", unix, Options{}, false, false},
		{"unix, TLS asked for", unix, Options{TLS: serverOnly, TLSRequired: true}, true, false},
		{"loopback in clear", loopback, Options{}, false, true},
		{"loopback in clear, insecure", loopback, Options{InsecureTCP: true}, false, false},
		{"other machines in clear, insecure", anyHost, Options{InsecureTCP: true}, false, true},
		{"loopback, TLS verifying no client", loopback, Options{TLS: serverOnly}, false, true},
		{"other machines, TLS verifying no client", anyHost, Options{TLS: serverOnly, TLSRequired: true}, false, true},
		{"other machines, TLS verifying no client, insecure", anyHost, Options{TLS: serverOnly, InsecureTCP: true}, true, false},
		{"loopback, client certificates", loopback, Options{TLS: verifying}, true, false},
		{"other machines, client certificates", anyHost, Options{TLS: verifying}, true, false},
		{"a config per client", anyHost, Options{TLS: perClient}, false, true},
	}
	for _, tt := range tests {
		got, err := NewServer(tt.opts).needTLS(tt.addr)
		if got != tt.wantTLS || (err != nil) != tt.wantErr {
			t.Errorf("%s: needTLS = %v, %v; want %v, error %v", tt.name, got, err, tt.wantTLS, tt.wantErr)
		}
	}
}
