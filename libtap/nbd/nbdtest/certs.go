// Package nbdtest makes TLS credentials for tests of NBD over TLS: a CA,
// a server certificate for localhost, client certificates, each written
// under the names both libnbd (tls-certificates=DIR) and QEMU
// (tls-creds-x509,dir=DIR) read: ca-cert.pem, server-cert.pem,
// server-key.pem, client-cert.pem, client-key.pem.
package nbdtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA signs certificates for one test.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewCA makes a CA valid for a day around now.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	tmpl := template(t, name)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	key := newKey(t)
	cert := sign(t, tmpl, tmpl, key, key)
	return &CA{cert: cert, key: key}
}

// Trust writes the CA's certificate as DIR/ca-cert.pem: what a client
// checks the server against, or a server its clients.
func (ca *CA) Trust(t testing.TB, dir string) {
	t.Helper()
	writePEM(t, filepath.Join(dir, "ca-cert.pem"), "CERTIFICATE", ca.cert.Raw)
}

// Server writes DIR/server-cert.pem and DIR/server-key.pem, for
// localhost and 127.0.0.1.
func (ca *CA) Server(t testing.TB, dir string) {
	t.Helper()
	tmpl := template(t, "localhost")
	tmpl.DNSNames = []string{"localhost"}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	ca.leaf(t, tmpl, filepath.Join(dir, "server"))
}

// Client writes DIR/client-cert.pem and DIR/client-key.pem.
func (ca *CA) Client(t testing.TB, dir string) {
	t.Helper()
	tmpl := template(t, "client")
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	ca.leaf(t, tmpl, filepath.Join(dir, "client"))
}

// ClientTLS is a Go client's configuration from a directory Trust and
// Client wrote: the CA to check the server, and the client certificate
// if there is one.
func ClientTLS(t testing.TB, dir string) *tls.Config {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ca-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s: no certificate", dir)
	}
	cfg := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "client-cert.pem"), filepath.Join(dir, "client-key.pem"))
	switch {
	case err == nil:
		// Present it whatever CAs the server asks for, as libnbd does: Go
		// would otherwise keep back a certificate of another CA, and the
		// server's verification would go untested.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	case !os.IsNotExist(err):
		t.Fatal(err)
	}
	return cfg
}

// leaf signs an end-entity certificate and writes PREFIX-cert.pem and
// PREFIX-key.pem. QEMU refuses a leaf whose critical key usage lacks
// digital signature or key encipherment, so it has both.
func (ca *CA) leaf(t testing.TB, tmpl *x509.Certificate, prefix string) {
	t.Helper()
	tmpl.BasicConstraintsValid = true
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	key := newKey(t)
	cert := sign(t, tmpl, ca.cert, key, ca.key)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, prefix+"-cert.pem", "CERTIFICATE", cert.Raw)
	writePEM(t, prefix+"-key.pem", "PRIVATE KEY", der)
}

func template(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"gotap test"}},
		NotBefore:    now.Add(-12 * time.Hour),
		NotAfter:     now.Add(12 * time.Hour),
	}
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, key, parentKey *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// writePEM writes one PEM block, mode 0600 (keys included: a test that
// runs its client as another user hands the files over itself).
func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
