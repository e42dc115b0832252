package nbd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// ServerTLS is the TLS configuration of a server with the certificate
// and key in certFile and keyFile (PEM). With clientCAFile (PEM, one CA
// or more), every client must present a certificate one of them signed,
// for client authentication; anyone holding such a certificate gets in,
// so give the server a CA of its own. Without it no client is verified,
// which Serve accepts over TCP only with Options.InsecureTCP.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	if clientCAFile == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("tls: client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls: client CA %s: no PEM certificate in it", clientCAFile)
	}
	cfg.ClientCAs = pool
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	return cfg, nil
}

// VerifiesClients reports whether cfg lets in only clients with a
// certificate its CAs signed. A config that picks another per client
// (GetConfigForClient) cannot be vouched for, so it does not.
func VerifiesClients(cfg *tls.Config) bool {
	return cfg.ClientAuth == tls.RequireAndVerifyClientCert && cfg.ClientCAs != nil && cfg.GetConfigForClient == nil
}
