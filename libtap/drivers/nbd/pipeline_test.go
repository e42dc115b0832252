package nbd_test

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/sched"
)

// inFlight is how many reads the pipelining cases have in flight at once.
const inFlight = 8

// blockOf is the offset read i reads: apart, so misplaced replies show.
func blockOf(i int) int64 { return int64(i) * 3 * readLen }

// TestPipelinedReplies: with several reads in flight on one connection,
// the server answering them only once it has them all, replies are
// matched by cookie whatever their order, chunks of different replies
// may come interleaved, and a reply that breaks the protocol, or no
// reply at all, fails every read in flight with EIO, and every later
// one, without hanging any.
func TestPipelinedReplies(t *testing.T) {
	const ioTimeout = 200 * time.Millisecond
	for _, tc := range []struct {
		name       string
		structured bool
		// reply answers the batch of requests, in the order received.
		reply func(b []byte, reqs []wire.Request) []byte
		ok    int // reads that succeed; the rest fail with EIO
	}{
		{"simple replies, reversed", false, func(b []byte, reqs []wire.Request) []byte {
			for i := len(reqs) - 1; i >= 0; i-- {
				b = honest(false)(i, reqs[i], b)
			}
			return b
		}, inFlight},
		{"structured replies, reversed", true, func(b []byte, reqs []wire.Request) []byte {
			for i := len(reqs) - 1; i >= 0; i-- {
				b = honest(true)(i, reqs[i], b)
			}
			return b
		}, inFlight},
		{"chunks of all replies interleaved", true, func(b []byte, reqs []wire.Request) []byte {
			for i := len(reqs) - 1; i >= 0; i-- { // second halves first, backwards
				r := reqs[i]
				b = dataChunk(b, 0, r.Cookie, r.Offset+readLen/2, readLen/2)
			}
			for _, r := range reqs {
				b = dataChunk(b, done, r.Cookie, r.Offset, readLen/2)
			}
			return b
		}, inFlight},
		{"a cookie never sent, after three replies", true, func(b []byte, reqs []wire.Request) []byte {
			for _, r := range reqs[:3] {
				b = honest(true)(0, r, b)
			}
			return dataChunk(b, done, reqs[3].Cookie^1<<40, reqs[3].Offset, readLen)
		}, 3},
		{"a reply twice", true, func(b []byte, reqs []wire.Request) []byte {
			b = honest(true)(0, reqs[0], b)
			return honest(true)(0, reqs[0], b)
		}, 1},
		{"a chunk after the last", true, func(b []byte, reqs []wire.Request) []byte {
			b = dataChunk(b, done, reqs[0].Cookie, reqs[0].Offset, readLen)
			return noneChunk(b, reqs[0].Cookie)
		}, 1},
		{"silence", true, func(b []byte, _ []wire.Request) []byte { return b }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := dialServer(t, tc.structured, 0, nbd.Options{IOTimeout: ioTimeout}, func(_ int, br *bufio.Reader, w io.Writer) {
				var h [wire.RequestSize]byte
				reqs := make([]wire.Request, 0, inFlight)
				for len(reqs) < inFlight {
					r, ok := nextRequest(br, &h)
					if !ok {
						return
					}
					reqs = append(reqs, r)
				}
				w.Write(tc.reply(nil, reqs))
				io.Copy(io.Discard, br) // and nothing more
			})
			start := time.Now()
			errs := make([]error, inFlight)
			var wg sync.WaitGroup
			for i := range inFlight {
				wg.Go(func() {
					buf := bytes.Repeat([]byte{0xEE}, readLen)
					off := blockOf(i)
					errs[i] = d.ReadV([][]byte{buf}, off)
					if errs[i] == nil && !bytes.Equal(buf, pattern[off:off+readLen]) {
						errs[i] = errors.New("wrong bytes")
					}
				})
			}
			wg.Wait()
			if took := time.Since(start); took > ioTimeout*2+2*time.Second {
				t.Errorf("the reads took %v with a %v I/O timeout", took, ioTimeout)
			}
			ok := 0
			for i, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, syscall.EIO):
					t.Errorf("read %d: %v; want success or EIO", i, err)
				}
			}
			if ok != tc.ok {
				t.Errorf("%d reads succeeded, %v; want %d", ok, errs, tc.ok)
			}
			if tc.ok < inFlight {
				start := time.Now()
				if err := d.ReadV([][]byte{make([]byte, readLen)}, 0); !errors.Is(err, syscall.EIO) {
					t.Errorf("read after the connection was given up: %v; want EIO", err)
				}
				if took := time.Since(start); took > time.Second {
					t.Errorf("read after the connection was given up took %v", took)
				}
			}
		})
	}
}

// TestMultiConnOnlyWhenAdvertised: several connections are opened only
// to a server that offers NBD_FLAG_CAN_MULTI_CONN, and requests in
// flight together are spread over them.
func TestMultiConnOnlyWhenAdvertised(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags uint16
		conns int // asked
		want  int
	}{
		{"not advertised", 0, 4, 1},
		{"advertised", wire.FlagCanMultiConn, 4, 4},
		{"advertised, one asked", wire.FlagCanMultiConn, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			served := map[int]int{} // requests per connection
			d := dialServer(t, true, tc.flags, nbd.Options{Conns: tc.conns}, func(conn int, br *bufio.Reader, w io.Writer) {
				answer(br, w, func(i int, r wire.Request, b []byte) []byte {
					mu.Lock()
					served[conn]++
					mu.Unlock()
					time.Sleep(time.Millisecond) // so that requests pile up
					return honest(true)(i, r, b)
				})
			})
			if d.Conns() != tc.want {
				t.Fatalf("%d connections; want %d", d.Conns(), tc.want)
			}
			var wg sync.WaitGroup
			for i := range 32 {
				wg.Go(func() {
					buf := make([]byte, 512)
					for range 4 {
						if err := d.ReadV([][]byte{buf}, int64(i)*512); err != nil || !bytes.Equal(buf, pattern[i*512:i*512+512]) {
							t.Errorf("read %d: %v", i, err)
						}
					}
				})
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(served) != tc.want {
				t.Errorf("requests went to %d connections (%v); want %d", len(served), served, tc.want)
			}
		})
	}
}

// The scheduler takes the driver as a Starter.
var _ sched.Starter = (*nbd.Disk)(nil)

// TestStartV: started reads and writes (the scheduler's Starter) report
// through done, many at once, held back in bursts (more) or not; a request that would need splitting, or
// a disk given up, is refused so that it goes the waiting way.
func TestStartV(t *testing.T) {
	d, err := nbd.Dial("unix:"+export(t, "ram:8M"), nbd.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n = 48
	bufs := make([][]byte, n)
	errs := make(chan error, n)
	done := func(err error) { errs <- err }
	for i := range bufs {
		bufs[i] = bytes.Repeat([]byte{byte(i + 1)}, 4096)
		if !d.StartV(true, bufs[i:i+1], int64(i)*4096, i%2 == 0, i%4 != 3, done) {
			t.Fatalf("write %d not started", i)
		}
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i := range bufs {
		clear(bufs[i])
		if !d.StartV(false, bufs[i:i+1], int64(i)*4096, false, true, done) {
			t.Fatalf("read %d not started", i)
		}
	}
	d.Unplug()
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for i, b := range bufs {
		if !bytes.Equal(b, bytes.Repeat([]byte{byte(i + 1)}, 4096)) {
			t.Errorf("block %d reads back wrong", i)
		}
	}
	if d.StartV(false, [][]byte{bufs[0], bufs[1]}, 0, false, false, done) {
		t.Error("started a read into two buffers")
	}
	if d.StartV(false, [][]byte{make([]byte, 64<<20)}, 0, false, false, done) {
		t.Error("started a read larger than the server takes")
	}
	d.Close()
	if d.StartV(false, bufs[:1], 0, false, false, done) {
		t.Error("started a read on a closed disk")
	}
}

// TestMultiConnRefusedMeansFewer: a server that advertises multi-conn
// but hangs up on the second connection is used over the first alone.
func TestMultiConnRefusedMeansFewer(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "one.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for i := 0; ; i++ {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if i > 0 {
				nc.Close()
				continue
			}
			go func() {
				defer nc.Close()
				br := bufio.NewReader(nc)
				if negotiate(br, nc, true, wire.FlagCanMultiConn) == nil {
					answer(br, nc, honest(true))
				}
			}()
		}
	}()
	d, err := nbd.Dial("unix:"+sock, nbd.Options{Conns: 4, OpenTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Conns() != 1 {
		t.Errorf("%d connections; want 1", d.Conns())
	}
	buf := make([]byte, readLen)
	if err := d.ReadV([][]byte{buf}, readOff); err != nil || !bytes.Equal(buf, pattern[readOff:readOff+readLen]) {
		t.Errorf("read: %v", err)
	}
}

// TestCloseFailsWhatIsInFlight: closing a disk whose server sits on
// several requests returns at once, and the requests fail with EIO
// instead of waiting for the I/O timeout.
func TestCloseFailsWhatIsInFlight(t *testing.T) {
	got := make(chan struct{}, inFlight)
	d := dialServer(t, true, 0, nbd.Options{IOTimeout: time.Minute}, func(_ int, br *bufio.Reader, _ io.Writer) {
		var h [wire.RequestSize]byte
		for {
			if _, ok := nextRequest(br, &h); !ok {
				return
			}
			got <- struct{}{} // and never answered
		}
	})
	errs := make(chan error, inFlight)
	for i := range inFlight {
		go func() { errs <- d.ReadV([][]byte{make([]byte, readLen)}, blockOf(i)) }()
	}
	for range inFlight {
		<-got
	}
	start := time.Now()
	d.Close()
	for range inFlight {
		if err := <-errs; !errors.Is(err, syscall.EIO) {
			t.Errorf("read in flight at Close: %v; want EIO", err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close and the failures took %v", took)
	}
}
