package nbd_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/nbd/wire"
)

// A backing server is another party's code: whatever it sends, the
// driver must return from every call with the data or an errno, and
// never write outside the caller's buffer. These targets send the
// fuzzer's bytes as the server's side of the conversation.

// hangAfter is how long a call may take against a server that has
// already said all it will: it then sees the end of the stream at once,
// so a call still running by then never returns.
const hangAfter = 10 * time.Second

// returns runs fn and returns its error, failing the input as a hang
// when fn outlives hangAfter. A hang panics, because the test's
// cleanup (closing the disk) could hang too.
func returns(what string, fn func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- fn() }()
	select {
	case err := <-errc:
		return err
	case <-time.After(hangAfter):
		panic(fmt.Sprintf("%s: no return within %v", what, hangAfter))
	}
}

// checkErrno fails unless err is nil or carries an errno, which is what
// the VBD above turns into an I/O error for its client.
func checkErrno(t *testing.T, what string, err error) {
	t.Helper()
	var errno syscall.Errno
	if err != nil && !errors.As(err, &errno) {
		t.Fatalf("%s: %v: not an errno", what, err)
	}
}

// fuzzCookie stands for the cookie of the request a fuzzed reply
// answers: the server puts the real one in its place, so that mutations
// get past the cookie check into the chunks behind it.
const fuzzCookie = 0xc0c0_ffee_c0c0_ffee

// The request a FuzzReplies input answers (its op, modulo fuzzOps).
const (
	fuzzRead = iota
	fuzzStatus
	fuzzWrite
	fuzzFlush
	fuzzOps
)

// FuzzReplies: a server that negotiates honestly answers the driver's
// first request with the input, and then says no more.
func FuzzReplies(f *testing.F) {
	for _, tc := range misbehavingReads {
		f.Add(tc.structured, uint8(fuzzRead), tc.reply(nil, fuzzCookie))
	}
	for _, tc := range misbehavingStatus {
		f.Add(true, uint8(fuzzStatus), tc.reply(nil, fuzzCookie))
	}
	for _, structured := range []bool{false, true} {
		f.Add(structured, uint8(fuzzWrite), simple(nil, 0, fuzzCookie))
		f.Add(structured, uint8(fuzzFlush), simple(nil, wire.ENOSPC, fuzzCookie))
	}
	f.Fuzz(func(t *testing.T, structured bool, op uint8, reply []byte) {
		d := dialServer(t, structured, 0, nbd.Options{IOTimeout: time.Minute}, func(_ int, br *bufio.Reader, w io.Writer) {
			var h [wire.RequestSize]byte
			r, ok := nextRequest(br, &h)
			if !ok {
				return
			}
			mark, cookie := be.AppendUint64(nil, fuzzCookie), be.AppendUint64(nil, r.Cookie)
			w.Write(bytes.ReplaceAll(reply, mark, cookie))
			w.(*net.UnixConn).CloseWrite()
			io.Copy(io.Discard, br)
		})
		switch op % fuzzOps {
		case fuzzRead:
			checkRead(t, d, readOff, readLen)
		case fuzzStatus:
			checkExtents(t, d, 0, statusLen)
		case fuzzWrite:
			checkErrno(t, "WriteV", returns("WriteV", func() error {
				return d.WriteV([][]byte{pattern[readOff : readOff+readLen]}, readOff, false)
			}))
		case fuzzFlush:
			checkErrno(t, "Flush", returns("Flush", d.Flush))
		}
		// The server has gone quiet: the next request must still end.
		checkRead(t, d, readOff, readLen)
		returns("Close", d.Close)
	})
}

// checkRead reads n bytes at off into a buffer with guard bytes on both
// sides, which must stay as they were.
func checkRead(t *testing.T, d *nbd.Disk, off, n int64) {
	t.Helper()
	const guard = 64
	arena := bytes.Repeat([]byte{0xEE}, int(n)+2*guard)
	buf := arena[guard : guard+n : guard+n]
	checkErrno(t, "ReadV", returns("ReadV", func() error {
		return d.ReadV([][]byte{buf}, off)
	}))
	for i, b := range append(arena[:guard:guard], arena[guard+n:]...) {
		if b != 0xEE {
			t.Fatalf("ReadV wrote outside its buffer (guard byte %d is %#x)", i, b)
		}
	}
}

// checkExtents asks the block status of [off, off+n): on success, the
// extents must cover it exactly, in order.
func checkExtents(t *testing.T, d *nbd.Disk, off, n int64) {
	t.Helper()
	var ext []disk.Extent
	err := returns("Extents", func() (err error) {
		ext, err = d.Extents(nil, off, n)
		return err
	})
	checkErrno(t, "Extents", err)
	if err != nil {
		return
	}
	at := off
	for _, e := range ext {
		if e.Offset != at || e.Length <= 0 {
			t.Fatalf("Extents(%d, %d) = %v: not a cover in order", off, n, ext)
		}
		at += e.Length
	}
	if at != off+n {
		t.Fatalf("Extents(%d, %d) = %v: ends at %d", off, n, ext, at)
	}
}

// FuzzDial: the input is all a server says in the handshake, whatever
// the driver asks, before it hangs up. If the driver takes it for an
// export, what it learnt must be usable, and every request must fail
// cleanly on the ended connection.
func FuzzDial(f *testing.F) {
	for _, structured := range []bool{false, true} {
		for _, extra := range []uint16{0, wire.FlagCanMultiConn | wire.FlagSendTrim | wire.FlagSendWriteZeroes} {
			f.Add(recordHandshake(f, structured, extra))
		}
	}
	// More of NBD_OPT_GO's information, before its ACK: the largest
	// request the export takes, a usual one and one under a sector, and
	// a size past int64.
	h := recordHandshake(f, false, 0)
	for _, info := range [][]byte{
		wire.BlockSize{Min: 1, Preferred: 4096, Max: 1 << 20}.AppendInfo(nil),
		wire.BlockSize{Min: 1, Preferred: 4096, Max: 256}.AppendInfo(nil),
		wire.Export{Size: 1 << 63, Flags: wire.FlagHasFlags}.AppendInfo(nil),
	} {
		ack := len(h) - wire.OptionReplySize
		f.Add(append(append(h[:ack:ack], optReply(nil, wire.OptGo, wire.RepInfo, info)...), h[ack:]...))
	}
	f.Fuzz(func(t *testing.T, handshake []byte) {
		if len(handshake) > 64<<10 {
			return // more than a socket holds before the driver reads
		}
		sock := filepath.Join(t.TempDir(), "fuzz.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer nc.Close()
					nc.Write(handshake)
					nc.(*net.UnixConn).CloseWrite()
					io.Copy(io.Discard, nc)
				}()
			}
		}()
		var d *nbd.Disk
		err = returns("Dial", func() (err error) {
			d, err = nbd.Dial("unix:"+sock, nbd.Options{OpenTimeout: hangAfter / 2, IOTimeout: time.Minute})
			return err
		})
		if err != nil {
			return
		}
		defer returns("Close", d.Close)
		size, largest := d.Size(), d.MaxRequest()
		if size < 0 || largest < wire.MinBlock || largest%wire.MinBlock != 0 {
			t.Fatalf("export of %d bytes taking requests of %d bytes at most", size, largest)
		}
		n := min(size, 64<<10) &^ (wire.MinBlock - 1)
		checkRead(t, d, 0, n)
		checkExtents(t, d, 0, n)
		checkErrno(t, "Flush", returns("Flush", d.Flush))
		checkErrno(t, "Trim", returns("Trim", func() error { return d.Trim(0, n) }))
		checkErrno(t, "WriteZeroes", returns("WriteZeroes", func() error {
			return d.WriteZeroes(0, n, false, false)
		}))
	})
}

// recordHandshake is what negotiate says to the driver when it dials:
// replayed, it is an honest server's side of the handshake.
func recordHandshake(tb testing.TB, structured bool, extra uint16) []byte {
	tb.Helper()
	sock := filepath.Join(tb.TempDir(), "record.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	var rec bytes.Buffer
	said := make(chan struct{})
	go func() {
		defer close(said)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		negotiate(bufio.NewReader(nc), io.MultiWriter(nc, &rec), structured, extra)
	}()
	d, err := nbd.Dial("unix:"+sock, nbd.Options{Conns: 1, OpenTimeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	d.Close()
	<-said
	return rec.Bytes()
}
