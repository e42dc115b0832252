package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control/controltest"
	"gotap.dev/libtap/nbd/nbdtest"
	"gotap.dev/libvhd/vhdtest"
)

// TestTCPNeedsClientCertificate: as nobody, with nbdinfo, nbdcopy and
// qemu-img, nothing is read or written through --tcp in clear, nor over
// TLS without a client certificate or with one from another CA; with the
// CA's certificate, data goes in and comes back.
func TestTCPNeedsClientCertificate(t *testing.T) {
	requireRoot(t)
	// The other CA forges the name of the real one: clients pick the
	// certificate to present by the issuer names the server asks for, so
	// only then does the server's signature check get to refuse it.
	ca, other := nbdtest.NewCA(t, "tapdisk CA"), nbdtest.NewCA(t, "tapdisk CA")
	serverDir := t.TempDir()
	ca.Trust(t, serverDir)
	ca.Server(t, serverDir)
	home := nobodysDir(t)
	good, noCert, otherCA := dirIn(t, home, "good"), dirIn(t, home, "nocert"), dirIn(t, home, "otherca")
	for _, dir := range []string{good, noCert, otherCA} {
		ca.Trust(t, dir) // every client trusts the server; they differ in their own certificate
	}
	ca.Client(t, good)
	other.Client(t, otherCA)
	const size = 16 << 20
	src := filepath.Join(home, "src.raw")
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	giveToNobody(t, home)

	port := freePort(t)
	p := start(t, t.TempDir(), []string{"ram:16M"}, "--tcp", "127.0.0.1:"+port,
		"--tls-cert", filepath.Join(serverDir, "server-cert.pem"), "--tls-key", filepath.Join(serverDir, "server-key.pem"),
		"--tls-ca", filepath.Join(serverDir, "ca-cert.pem"))
	uri := func(certs string) string { return "nbds://localhost:" + port + "/0?tls-certificates=" + certs }
	// The forged certificate goes first: refusals are logged once per
	// 10 s, and its refusal is the one that shows the server checked.
	refused := []struct {
		name string
		tool string
		args []string
	}{
		{"nbdinfo with another CA's certificate", "nbdinfo", []string{uri(otherCA)}},
		{"nbdcopy with another CA's certificate", "nbdcopy", []string{src, uri(otherCA)}},
		{"nbdinfo in clear", "nbdinfo", []string{"nbd://localhost:" + port + "/0"}},
		{"nbdcopy in clear", "nbdcopy", []string{src, "nbd://localhost:" + port + "/0"}},
		{"nbdinfo without a certificate", "nbdinfo", []string{uri(noCert)}},
		{"nbdcopy without a certificate", "nbdcopy", []string{src, uri(noCert)}},
		{"qemu-img in clear", "qemu-img", []string{"info", "--image-opts", qemuNBD(port, "")}},
		{"qemu-img without a certificate", "qemu-img", append([]string{"info"}, qemuTLS(noCert, port)...)},
		{"qemu-img with another CA's certificate", "qemu-img", append([]string{"info"}, qemuTLS(otherCA, port)...)},
	}
	for _, tt := range refused {
		if out, err := asNobody(t, home, tt.tool, tt.args...); err == nil {
			t.Errorf("%s: let in\n%s", tt.name, out)
		}
	}

	// Nothing was written: the disk still reads as zeros.
	out := filepath.Join(home, "out.raw")
	mustAsNobody(t, home, "nbdcopy", uri(good), out)
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, make([]byte, size)) {
		t.Fatalf("the disk after the refused clients: %v, or not all zeros", err)
	}
	if got := mustAsNobody(t, home, "nbdinfo", "--size", uri(good)); strings.TrimSpace(got) != strconv.Itoa(size) {
		t.Errorf("nbdinfo --size = %q; want %d", got, size)
	}
	mustAsNobody(t, home, "nbdcopy", "--flush", src, uri(good))
	mustAsNobody(t, home, "nbdcopy", uri(good), out)
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, data) {
		t.Errorf("read back through TLS: %v, or not the data written", err)
	}
	cmp := mustAsNobody(t, home, "qemu-img", append(append([]string{"compare"}, qemuTLS(good, port)...),
		"driver=raw,file.driver=file,file.filename="+src)...)
	if !strings.Contains(cmp, "identical") {
		t.Errorf("qemu-img compare over TLS: %s", cmp)
	}

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if !strings.Contains(p.stderr.String(), "nbd client refused") || !strings.Contains(p.stderr.String(), "unknown authority") {
		t.Error("tapdisk logged no refusal of the forged client certificate")
	}
}

// TestNBDSocketChecksPeer: nobody gets nothing from a minor's NBD socket,
// at mode 0600 (the kernel refuses) and chmodded 0666 in a directory
// anyone may enter (tapdisk refuses, by the peer's credentials), while
// root still reads.
func TestNBDSocketChecksPeer(t *testing.T) {
	requireRoot(t)
	home := nobodysDir(t)
	src := filepath.Join(home, "src.raw")
	if err := os.WriteFile(src, bytes.Repeat([]byte{0xab}, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	giveToNobody(t, home)
	dir := controltest.PublicDir(t)
	p := start(t, dir, []string{"ram:4M"})
	sock := strings.TrimPrefix(p.uris[0], "nbd+unix:///?socket=")
	if out, err := asNobody(t, home, "nbdinfo", p.uris[0]); err == nil {
		t.Errorf("nobody on a 0600 socket: let in\n%s", out)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o755, sock: 0o666} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := asNobody(t, home, "nbdinfo", p.uris[0]); err == nil {
		t.Errorf("nobody reading a 0666 socket: let in\n%s", out)
	}
	if out, err := asNobody(t, home, "nbdcopy", src, p.uris[0]); err == nil {
		t.Errorf("nobody writing a 0666 socket: let in\n%s", out)
	}
	if got := vhdtest.Run(t, "nbdcopy", p.uris[0], "-"); got != string(make([]byte, 4<<20)) {
		t.Error("root's read after the refusals: not the zeros the disk held")
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit status %d", code)
	}
	if !strings.Contains(p.stderr.String(), "nbd client refused") || !strings.Contains(p.stderr.String(), "peer uid 65534") {
		t.Error("tapdisk logged no refusal of uid 65534")
	}
}

// TestTCPInsecure: --tcp-insecure does what its help warns of: any local
// user reads through the loopback listener.
func TestTCPInsecure(t *testing.T) {
	requireRoot(t)
	port := freePort(t)
	start(t, t.TempDir(), []string{"ram:1M"}, "--tcp", ":"+port, "--tcp-insecure")
	if got := mustAsNobody(t, nobodysDir(t), "nbdinfo", "--size", "nbd://localhost:"+port+"/0"); strings.TrimSpace(got) != "1048576" {
		t.Errorf("nbdinfo --size as nobody = %q", got)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run clients as nobody")
	}
}

// nobodysDir is a directory for the clients run as nobody: their HOME,
// their certificates, their files. giveToNobody hands it over.
func nobodysDir(t *testing.T) string {
	t.Helper()
	dir := controltest.PublicDir(t)
	giveToNobody(t, dir)
	return dir
}

func dirIn(t *testing.T, parent, name string) string {
	t.Helper()
	dir := filepath.Join(parent, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// giveToNobody chowns everything under dir to nobody.
func giveToNobody(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, controltest.Nobody, controltest.Nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// asNobody runs a tool as nobody, with no supplementary groups, and
// returns its combined output.
func asNobody(t *testing.T, home, tool string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, vhdtest.RequireTool(t, tool), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: controltest.Nobody, Gid: controltest.Nobody}}
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Dir = home
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustAsNobody(t *testing.T, home, tool string, args ...string) string {
	t.Helper()
	out, err := asNobody(t, home, tool, args...)
	if err != nil {
		t.Fatalf("%s %s as nobody: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return out
}

// qemuNBD is qemu's --image-opts for export 0 on localhost:port, over
// TLS with the credentials object tls0 if creds is set.
func qemuNBD(port, creds string) string {
	opts := "driver=nbd,server.type=inet,server.host=localhost,server.port=" + port + ",export=0"
	if creds != "" {
		opts += ",tls-creds=" + creds
	}
	return opts
}

// qemuTLS is qemu-img's arguments for export 0 over TLS with the client
// credentials in dir (ca-cert.pem, client-cert.pem, client-key.pem).
func qemuTLS(dir, port string) []string {
	return []string{"--object", "tls-creds-x509,id=tls0,endpoint=client,dir=" + dir, "--image-opts", qemuNBD(port, "tls0")}
}

// freePort is a loopback TCP port free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
