package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libtap/control/controltest"
	"gotap.dev/libvhd/vhdtest"
)

// A flood is many connections to tapdisk's listeners that never do what
// a client should: most stay silent after connecting, a few (slowloris)
// send a valid start of a request one byte at a time and never finish.
// Whenever tapdisk hangs up, a flood connection reconnects.

// envFlood, set in a child's environment, makes the test binary a flood
// of the targets it lists (floodMain) instead of running tests.
const envFlood = "TAPDISK_TEST_FLOOD"

// target is one listener to flood: "nbd" or "ctl" says what the slow
// connections trickle.
type target struct {
	kind, network, addr string
	idle, slow          int // connections of each sort
}

func (tg target) String() string {
	return fmt.Sprintf("%s %s %s %d %d", tg.kind, tg.network, tg.addr, tg.idle, tg.slow)
}

func parseTargets(spec string) ([]target, error) {
	var tgs []target
	for _, line := range strings.Split(strings.TrimSpace(spec), ";") {
		var tg target
		if _, err := fmt.Sscanf(line, "%s %s %s %d %d", &tg.kind, &tg.network, &tg.addr, &tg.idle, &tg.slow); err != nil {
			return nil, fmt.Errorf("flood target %q: %w", line, err)
		}
		tgs = append(tgs, tg)
	}
	return tgs, nil
}

func targetSpec(tgs []target) string {
	var s []string
	for _, tg := range tgs {
		s = append(s, tg.String())
	}
	return strings.Join(s, ";")
}

// slowBytes are what a slowloris connection trickles: a valid start that
// leaves tapdisk waiting for more. NBD: client flags, then NBD_OPT_GO
// announcing 256 bytes of data (zeros follow). Control: a request line
// that never ends.
var slowBytes = map[string]string{
	"nbd": "\x00\x00\x00\x03IHAVEOPT\x00\x00\x00\x07\x00\x00\x01\x00",
	"ctl": `{"v":1,"id":1,"op":"list"`,
}

// slowEvery is the pace of a slowloris connection.
const slowEvery = 300 * time.Millisecond

type flood struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	dialed  atomic.Int64 // connections made
	refused atomic.Int64 // dials that failed (a full backlog, say)
}

// startFlood floods tgs from this process until stop.
func startFlood(tgs []target) *flood {
	f := &flood{stop: make(chan struct{})}
	for _, tg := range tgs {
		for i := range tg.idle + tg.slow {
			f.wg.Go(func() { f.connection(tg, i >= tg.idle) })
		}
	}
	return f
}

// stopFlood closes every connection of the flood and waits for them.
func (f *flood) stopFlood() {
	close(f.stop)
	f.wg.Wait()
}

// connection keeps one connection to tg open, reconnecting after a
// hang-up, until the flood stops.
func (f *flood) connection(tg target, slow bool) {
	for {
		c, err := net.DialTimeout(tg.network, tg.addr, time.Second)
		if err != nil {
			f.refused.Add(1)
		} else {
			f.dialed.Add(1)
			f.hold(c, tg.kind, slow)
		}
		select {
		case <-f.stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// hold keeps c open until tapdisk hangs up or the flood stops: silent,
// or trickling slowBytes and then zeros.
func (f *flood) hold(c net.Conn, kind string, slow bool) {
	held := make(chan struct{})
	defer close(held)
	go func() {
		select {
		case <-f.stop:
		case <-held:
		}
		c.Close()
	}()
	if !slow {
		io.Copy(io.Discard, c)
		return
	}
	go io.Copy(io.Discard, c) // whatever tapdisk says first
	b := []byte(slowBytes[kind])
	for i := 0; ; i++ {
		next := byte(0)
		if i < len(b) {
			next = b[i]
		}
		if kind == "ctl" && i >= len(b) {
			next = ' ' // never the newline
		}
		if _, err := c.Write([]byte{next}); err != nil {
			return
		}
		time.Sleep(slowEvery)
	}
}

// floodMain is the child's side of floodAs: flood until stdin closes,
// then report how many connections were made.
func floodMain(spec string) int {
	tgs, err := parseTargets(spec)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	f := startFlood(tgs)
	fmt.Println("flooding")
	io.Copy(io.Discard, os.Stdin)
	f.stopFlood()
	fmt.Println(f.dialed.Load(), f.refused.Load())
	return 0
}

// floodAs floods tgs from a process running as uid; stop ends it and
// returns how many connections it made.
func floodAs(t *testing.T, uid uint32, tgs []target) (stop func() (dialed, refused int64)) {
	t.Helper()
	cmd := controltest.Command(t, uid, envFlood+"="+targetSpec(tgs))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wait := make(chan error, 1)
	go func() { wait <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); err != nil || line != "flooding\n" {
		t.Fatalf("flood as uid %d: %q, %v", uid, line, err)
	}
	return func() (int64, int64) {
		stdin.Close()
		var dialed, refused int64
		line, _ := out.ReadString('\n')
		fmt.Sscan(line, &dialed, &refused)
		select {
		case err := <-wait:
			if err != nil {
				t.Errorf("flood as uid %d: %v", uid, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("flood as uid %d still running 10 s after its end", uid)
		}
		return dialed, refused
	}
}

// openFDs counts the file descriptors process pid has open.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// tapCtlList runs tap-ctl list on dir and returns its output, failing
// the test if it fails or takes over 5 s.
func tapCtlList(t *testing.T, tapCtl, dir string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tapCtl, "--run-dir", dir, "list").CombinedOutput()
	if err != nil {
		t.Fatalf("tap-ctl list: %v (%v)\n%s", err, ctx.Err(), out)
	}
	return string(out)
}

// nbdinfoWithin reports whether nbdinfo reads uri's size within d.
func nbdinfoWithin(t *testing.T, uri string, d time.Duration) bool {
	t.Helper()
	nbdinfo := vhdtest.RequireTool(t, "nbdinfo")
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := exec.CommandContext(ctx, nbdinfo, "--size", uri).Run()
		cancel()
		if err == nil {
			return true
		}
	}
	return false
}

// TestFloodKeepsServing is issue 9's acceptance for bounded resources:
// 2,000 idle connections from another user (and a few hundred from root,
// as an authenticated client could hold) and slowloris clients, against
// the NBD socket, the TCP listener and the control socket, all opened
// up to that user. Meanwhile fio verifies on a connection made before,
// tap-ctl list answers, and tapdisk's file descriptors stay bounded by
// its connection limits; once the flood ends, new clients connect; under
// a second flood SIGTERM stops it within seconds.
//
// Root does not flood the control socket: root may stop tapdisk anyway,
// and its idle connections are bounded by the control idle timeout, a
// minute, which tap-ctl would wait out.
func TestFloodKeepsServing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to flood as another user")
	}
	e := clitest.New(t) // for tap-ctl
	dir := controltest.PublicDir(t)
	port := freePort(t)
	const handshake = 3 * time.Second
	p := start(t, dir, []string{"vhd:" + newVHD(t, 64<<20)},
		"--tcp", "127.0.0.1:"+port, "--tcp-insecure", "--handshake-timeout", handshake.String())
	sock := strings.TrimPrefix(p.uris[0], "nbd+unix:///?socket=")
	tcpURI := "nbd://127.0.0.1:" + port + "/0"
	// Opened up as a careless admin might: only tapdisk itself stands
	// between the flood and its listeners.
	for _, s := range []string{sock, p.ctl} {
		if err := os.Chmod(s, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	const floodFor = 4 * handshake // each slot is taken by the flood again and again
	fio := vhdtest.StartFio(t, p.uris[0], "--size=32M", fmt.Sprintf("--runtime=%d", int((floodFor+6*time.Second).Seconds())))
	time.Sleep(time.Second) // fio is connected

	nobody := []target{
		{"nbd", "tcp", "127.0.0.1:" + port, 1000, 10},
		{"nbd", "unix", sock, 700, 10},
		{"ctl", "unix", p.ctl, 300, 10},
	}
	rooted := []target{
		{"nbd", "tcp", "127.0.0.1:" + port, 200, 10},
		{"nbd", "unix", sock, 200, 10},
	}
	stopNobody := floodAs(t, controltest.Nobody, nobody)
	root := startFlood(rooted)
	// Two NBD listeners and the control socket, at their default limits,
	// plus what tapdisk holds anyway (image, log, epoll, listeners...).
	const fdBound = 64 + 64 + 16 + 64
	maxFDs := 0
	for end := time.Now().Add(floodFor); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		if out := tapCtlList(t, filepath.Join(e.Bin, "tap-ctl"), dir); !strings.Contains(out, "minor=0") {
			t.Fatalf("tap-ctl list during the flood: %q", out)
		}
		maxFDs = max(maxFDs, openFDs(t, p.cmd.Process.Pid))
		if !p.alive() {
			t.Fatal("tapdisk exited during the flood")
		}
	}
	if !fio.Running() {
		t.Error("fio ended before the flood did: the flood did not overlap it")
	}
	dialed, refused := stopNobody()
	root.stopFlood()
	t.Logf("flood: uid %d made %d connections (%d dials failed), root %d; tapdisk held at most %d fds",
		controltest.Nobody, dialed, refused, root.dialed.Load(), maxFDs)
	if dialed < 2000 {
		t.Errorf("the flood made %d connections; want at least 2000", dialed)
	}
	if maxFDs > fdBound {
		t.Errorf("tapdisk held %d file descriptors during the flood; want at most %d", maxFDs, fdBound)
	}

	for _, uri := range []string{p.uris[0], tcpURI} {
		if !nbdinfoWithin(t, uri, 5*time.Second) {
			t.Errorf("nbdinfo %s: no answer within 5 s of the flood's end", uri)
		}
	}
	fio.Wait(t)

	// SIGTERM under a flood.
	stopNobody = floodAs(t, controltest.Nobody, nobody)
	root = startFlood(rooted)
	time.Sleep(time.Second)
	start := time.Now()
	code := p.stop(t)
	took := time.Since(start)
	stopNobody()
	root.stopFlood()
	t.Logf("SIGTERM under a flood: exit %d after %v", code, took)
	if code != 0 || took > 10*time.Second {
		t.Errorf("SIGTERM under a flood: exit %d after %v; want 0 within 10 s", code, took)
	}
}

// TestFDExhaustion: with its file descriptors used up (its limit lowered
// under it, then idle connections), tapdisk's listeners fail to accept.
// They must pause and retry, not stop: once the connections close, NBD
// clients and tap-ctl get answers again, under the same limit, and
// SIGTERM stops it. (A failed accept used to end a listener for good,
// and the control socket's then made shutdown hang.)
func TestFDExhaustion(t *testing.T) {
	prlimit := vhdtest.RequireTool(t, "prlimit")
	e := clitest.New(t)
	dir := t.TempDir()
	p := start(t, dir, []string{"ram:4M"})
	pid := p.cmd.Process.Pid
	limit := openFDs(t, pid) + 4
	vhdtest.Run(t, prlimit, "--pid", strconv.Itoa(pid), fmt.Sprintf("--nofile=%d:%d", limit, limit))
	sock := strings.TrimPrefix(p.uris[0], "nbd+unix:///?socket=")
	f := startFlood([]target{{"nbd", "unix", sock, 20, 0}, {"ctl", "unix", p.ctl, 10, 0}})
	for deadline := time.Now().Add(5 * time.Second); p.alive() && openFDs(t, pid) < limit; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tapdisk holds %d fds 5 s into the flood; want its limit, %d", openFDs(t, pid), limit)
		}
	}
	time.Sleep(time.Second) // accepts fail meanwhile
	f.stopFlood()
	if !p.alive() {
		t.Fatal("tapdisk exited when its descriptors ran out")
	}

	if !nbdinfoWithin(t, p.uris[0], 5*time.Second) {
		t.Error("nbdinfo: no answer within 5 s of the descriptors' return")
	}
	if out := tapCtlList(t, filepath.Join(e.Bin, "tap-ctl"), dir); !strings.Contains(out, "minor=0") {
		t.Errorf("tap-ctl list after the exhaustion: %q", out)
	}
	start := time.Now()
	if code := p.stop(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM; want 0", code)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("SIGTERM took %v", took)
	}
	if log := p.stderr.String(); !strings.Contains(log, "accept failed: retrying") || !strings.Contains(log, "too many open files") {
		t.Errorf("no log line of a failed accept (EMFILE):\n%s", log)
	}
}
