// Package controltest runs a control client as another user, to test
// that a daemon refuses peers of another uid. The test binary re-executes
// itself as that user: a test package that uses AsUser must call Main
// from its TestMain.
package controltest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Nobody is the uid and gid of the unprivileged user the tests run as.
const Nobody = 65534

const (
	envSocket = "CONTROLTEST_SOCKET"
	envLine   = "CONTROLTEST_LINE"
)

// Main runs the client when the binary was re-executed by AsUser, else
// the tests.
func Main(m *testing.M) {
	if Child() {
		os.Exit(client(os.Getenv(envSocket), os.Getenv(envLine), os.Stdout))
	}
	os.Exit(m.Run())
}

// Child reports whether this process is a client AsUser started: a
// TestMain skips its own setup then.
func Child() bool { return os.Getenv(envSocket) != "" }

// client sends line and copies the one reply line to w; a failure to
// connect is printed as "dial: …" and exits 3.
func client(socket, line string, w io.Writer) int {
	c, err := net.Dial("unix", socket)
	if err != nil {
		fmt.Fprintf(w, "dial: %v\n", err)
		return 3
	}
	defer c.Close()
	fmt.Fprintln(c, line)
	reply, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		fmt.Fprintf(w, "read: %v\n", err)
		return 4
	}
	fmt.Fprint(w, reply)
	return 0
}

// AsUser sends line to socket from a process running as uid:gid and
// returns what it printed: the reply line, or "dial: …" when the socket
// refused the connection. It skips unless the test runs as root. The
// socket's directory must be searchable by uid.
func AsUser(t testing.TB, uid uint32, socket, line string) string {
	t.Helper()
	out, err := Command(t, uid, envSocket+"="+socket, envLine+"="+line).Output()
	if _, exited := err.(*exec.ExitError); err != nil && !exited {
		t.Fatalf("run client as uid %d: %v", uid, err)
	}
	return strings.TrimSpace(string(out))
}

// Command re-executes the test binary as uid:gid, without supplementary
// groups, with env added to the environment and no test to run: the
// package's TestMain tells from env what the child is to do. It skips
// unless the test runs as root.
func Command(t testing.TB, uid uint32, env ...string) *exec.Cmd {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another uid")
	}
	cmd := exec.Command(publicCopy(t, os.Args[0]), "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid}}
	return cmd
}

// publicCopy copies a file into a fresh directory anyone may enter and
// run from (test binaries and t.TempDir are root's alone), removed when
// the test ends. Its directory also suits sockets another uid must reach.
func publicCopy(t testing.TB, file string) string {
	t.Helper()
	dir := PublicDir(t)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return dst
}

// PublicDir is a fresh directory of mode 0755 under /tmp, removed when
// the test ends.
func PublicDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "controltest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
