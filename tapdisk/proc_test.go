package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/controltest"
)

// binary is the tapdisk built once for every test.
var binary string

func TestMain(m *testing.M) {
	if spec := os.Getenv(envFlood); spec != "" {
		os.Exit(floodMain(spec))
	}
	if !controltest.Child() {
		dir, err := os.MkdirTemp("", "tapdisk-test")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "tapdisk")
		args := append([]string{"build", "-o", binary}, raceFlags()...)
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
			os.Exit(1)
		}
	}
	controltest.Main(m)
}

// proc is a running tapdisk.
type proc struct {
	cmd    *exec.Cmd
	dir    string        // its run directory
	ctl    string        // the control socket it printed
	uris   []string      // the NBD URIs it printed
	stderr *bytes.Buffer // read it only once exited is closed
	exited chan struct{} // closed once tapdisk has exited and its output is copied
}

// start runs tapdisk with a run directory in dir and waits for the lines
// it prints: the control socket, then one URI per image.
func start(t *testing.T, dir string, images []string, flags ...string) *proc {
	t.Helper()
	p := &proc{dir: dir, stderr: new(bytes.Buffer), exited: make(chan struct{})}
	args := append([]string{"--run-dir", dir, "--log-level", "debug"}, flags...)
	p.cmd = exec.Command(binary, append(args, images...)...)
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		checkRaces(t, p.stderr.String())
		if t.Failed() {
			t.Logf("tapdisk stderr:\n%s", p.stderr)
		}
	})
	for i := 0; i <= len(images); i++ {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("tapdisk printed %d lines, then exited", i)
			}
			if i == 0 {
				p.ctl = line
			} else {
				p.uris = append(p.uris, line)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("tapdisk printed %d lines in 10 s", i)
		}
	}
	return p
}

// client dials the control socket.
func (p *proc) client(t *testing.T) *control.Client {
	t.Helper()
	c, err := control.Dial(p.ctl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect() })
	return c
}

// wait waits for tapdisk to exit and returns its status.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatal("tapdisk still running 30 s later")
		return -1
	}
}

// stop sends SIGTERM and returns the exit status.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	return p.wait(t)
}

// alive reports whether tapdisk is still running.
func (p *proc) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}
