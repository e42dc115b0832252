package idlepoll

import (
	"net"
	"testing"
	"time"
)

// pair is a connected pair of Unix sockets: the server's end, watched by
// a Waiter, and the client's.
func pair(t *testing.T) (srv *net.UnixConn, cli net.Conn) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: t.TempDir() + "/s", Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err = net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err = ln.AcceptUnix()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); cli.Close() })
	return srv, cli
}

// wait is one wait of the server for the client's byte, sent after
// delay, with w around it as the NBD reader uses it.
func wait(t *testing.T, w *Waiter, srv, cli net.Conn, delay time.Duration) {
	t.Helper()
	go func() {
		time.Sleep(delay)
		cli.Write([]byte{1})
	}()
	w.Before()
	var b [1]byte
	if _, err := srv.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	w.After()
}

func TestWaiterAdapts(t *testing.T) {
	srv, cli := pair(t)
	w := NewWaiter(srv, time.Second)
	if w == nil {
		t.Fatal("no Waiter: epoll unavailable?")
	}
	steps := []struct {
		delay        time.Duration
		spun, caught bool
		spinningThen bool
	}{
		{0, false, false, true},                        // slept, back within the window: spin next time
		{time.Millisecond, true, true, true},           // caught by the spin
		{0, true, true, true},                          // already there
		{1500 * time.Millisecond, true, false, false},  // the client slowed down: stop spinning
		{1500 * time.Millisecond, false, false, false}, // slept, longer than the window: stay so
		{0, false, false, true},
	}
	for i, s := range steps {
		spun := w.spinning
		wait(t, w, srv, cli, s.delay)
		if spun != s.spun || w.caught != s.caught || w.spinning != s.spinningThen {
			t.Fatalf("step %d: spun %v caught %v spinning %v, want %v %v %v", i, spun, w.caught, w.spinning, s.spun, s.caught, s.spinningThen)
		}
	}
}

// TestSpinGivesWay: a spin ends as soon as another watched descriptor is
// ready, for the goroutine that waits for it in the netpoller.
func TestSpinGivesWay(t *testing.T) {
	srv, _ := pair(t)
	other, otherCli := pair(t)
	if !Watch(other) {
		t.Fatal("Watch failed")
	}
	w := NewWaiter(srv, time.Hour)
	w.spinning = true
	otherCli.Write([]byte{1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Before()
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the spin went on while another descriptor was ready")
	}
	if w.caught {
		t.Fatal("caught bytes that were not sent")
	}
}

func TestNoWindowNoWaiter(t *testing.T) {
	srv, _ := pair(t)
	w := NewWaiter(srv, 0)
	if w != nil {
		t.Fatal("a Waiter with no window")
	}
	w.Before() // nil Waiters do nothing
	w.After()
}
