package nbd_test

import (
	"bytes"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/vbd"
	"gotap.dev/libvhd/vhdtest"
)

// TestHostileClients sends what a broken or malicious client might: each
// request gets the protocol's error and the connection goes on, a
// protocol violation closes only its own connection, and a vanished
// client leaks neither goroutines, file descriptors nor ring slots. All
// the while, fio verifies random I/O in the disk's second half over two
// more connections.
func TestHostileClients(t *testing.T) {
	s := serve(t, "ram:64M")
	base, baseFDs := runtime.NumGoroutine(), openFDs(t)
	fio := vhdtest.StartFio(t, s.uri(), "--iodepth=8", "--numjobs=2",
		"--offset=32M", "--size=16M", "--offset_increment=16M", "--runtime=8")
	good := dialRaw(t, s.sock, true)
	checkGood := func(t *testing.T) {
		t.Helper()
		if errno, data := good.do(wire.CmdRead, 0, 4096, 4096, nil); errno != 0 || len(data) != 4096 {
			t.Fatalf("the other connection: read errno %d, %d bytes", errno, len(data))
		}
	}
	const size = 64 << 20
	for _, structured := range []bool{false, true} {
		c := dialRaw(t, s.sock, structured)
		for _, tc := range []struct {
			name      string
			typ, flag uint16
			off       uint64
			n         uint32
			payload   []byte
			want      uint32
		}{
			{"read past the end", wire.CmdRead, 0, size - 512, 1024, nil, wire.EINVAL},
			{"read at huge offset", wire.CmdRead, 0, 1 << 63, 512, nil, wire.EINVAL},
			{"write past the end", wire.CmdWrite, 0, size, 512, make([]byte, 512), wire.ENOSPC},
			{"zero past the end", wire.CmdWriteZeroes, 0, size - 512, 4096, nil, wire.ENOSPC},
			{"trim past the end", wire.CmdTrim, 0, size, 512, nil, wire.EINVAL},
			{"misaligned read", wire.CmdRead, 0, 100, 512, nil, wire.EINVAL},
			{"misaligned write", wire.CmdWrite, 0, 512, 100, make([]byte, 100), wire.EINVAL},
			{"oversize read", wire.CmdRead, 0, 0, 33 << 20, nil, wire.EINVAL},
			{"oversize read, no fragments", wire.CmdRead, wire.CmdFlagDF, 0, 33 << 20, nil, wire.EOVERFLOW},
			{"oversize write", wire.CmdWrite, 0, 0, 33 << 20, make([]byte, 33<<20), wire.EINVAL},
			{"zero length", wire.CmdRead, 0, 0, 0, nil, wire.EINVAL},
			{"unknown command", 42, 0, 0, 512, nil, wire.EINVAL},
			{"unknown flag", wire.CmdRead, 1 << 9, 0, 512, nil, wire.EINVAL},
			{"flag of another command", wire.CmdRead, wire.CmdFlagFUA, 0, 512, nil, wire.EINVAL},
			{"cache past the end", wire.CmdCache, 0, size, 512, nil, wire.EINVAL},
			{"cache", wire.CmdCache, 0, 0, 1 << 20, nil, 0},
		} {
			if errno, _ := c.do(tc.typ, tc.flag, tc.off, tc.n, tc.payload); errno != tc.want {
				t.Errorf("structured=%v %s: errno %d; want %d", structured, tc.name, errno, tc.want)
			}
		}
		if !structured {
			if errno, _ := c.do(wire.CmdBlockStatus, 0, 0, 512, nil); errno != wire.EINVAL {
				t.Errorf("block status without a meta context: errno %d; want EINVAL", errno)
			}
		}
		// Still usable: write, read back.
		want := bytes.Repeat([]byte("hostile!"), 512)
		if errno, _ := c.do(wire.CmdWrite, wire.CmdFlagFUA, 8192, 4096, want); errno != 0 {
			t.Fatalf("structured=%v write after errors: errno %d", structured, errno)
		}
		if errno, got := c.do(wire.CmdRead, 0, 8192, 4096, nil); errno != 0 || !bytes.Equal(got, want) {
			t.Fatalf("structured=%v read after errors: errno %d, data differs %v", structured, errno, !bytes.Equal(got, want))
		}
		c.send(wire.CmdDisc, 0, 1, 0, 0, nil)
		c.nc.Close()
	}

	t.Run("bad magic closes that connection only", func(t *testing.T) {
		c := dialRaw(t, s.sock, false)
		c.write(bytes.Repeat([]byte{0xee}, wire.RequestSize))
		if _, _, _, err := c.reply(0); err == nil {
			t.Fatal("connection still answering after a bad magic")
		}
		c.nc.Close()
		checkGood(t)
	})
	t.Run("bad option magic ends the handshake", func(t *testing.T) {
		nc, err := net.Dial("unix", s.sock)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.Write(make([]byte, 4+wire.OptionHeaderSize))
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, _ := nc.Read(make([]byte, 64)); n != 18 {
			t.Fatalf("read %d bytes; want the 18-byte greeting, then the end", n)
		}
		if n, err := nc.Read(make([]byte, 64)); err == nil {
			t.Fatalf("read %d more bytes; want the connection closed", n)
		}
	})
	t.Run("vanishing mid-write", func(t *testing.T) {
		c := dialRaw(t, s.sock, true)
		c.send(wire.CmdWrite, 0, 1, 0, 65536, make([]byte, 1000))
		c.nc.Close()
		checkGood(t)
	})
	t.Run("vanishing with requests in flight", func(t *testing.T) {
		c := dialRaw(t, s.sock, true)
		for i := range 200 {
			c.send(wire.CmdRead, 0, uint64(i), uint64(i)*65536%size, 65536, nil)
		}
		c.nc.Close()
		checkGood(t)
	})
	good.send(wire.CmdDisc, 0, 1, 0, 0, nil)
	good.nc.Close()
	if !fio.Running() {
		t.Error("fio ended before the hostile clients did: it did not run the whole time")
	}
	fio.Wait(t)
	settleGoroutines(t, base)
	if n := openFDs(t); n > baseFDs {
		t.Errorf("%d file descriptors open after every client left; %d before", n, baseFDs)
	}
	if n := s.v.Ring().InUse(); n != 0 {
		t.Errorf("%d ring slots in use after every client left; want 0", n)
	}
}

// TestReadOnlyExport refuses writes with EPERM and says so in its flags.
func TestReadOnlyExport(t *testing.T) {
	v, err := vbd.Open(1, "aio:"+rawDisk(t, 1<<20), vbd.Options{Drivers: drivers.Options{ReadOnly: true}})
	if err != nil {
		t.Fatal(err)
	}
	sock := serveVBD(t, v, nbd.Options{}).sock
	c := dialRaw(t, sock, true)
	if c.flags&wire.FlagReadOnly == 0 || c.flags&wire.FlagSendTrim != 0 {
		t.Errorf("flags %#x: want READ_ONLY and no TRIM", c.flags)
	}
	for _, typ := range []uint16{wire.CmdWrite, wire.CmdTrim, wire.CmdWriteZeroes} {
		var payload []byte
		if typ == wire.CmdWrite {
			payload = make([]byte, 512)
		}
		if errno, _ := c.do(typ, 0, 0, 512, payload); errno != wire.EPERM {
			t.Errorf("cmd %d on a read-only export: errno %d; want EPERM", typ, errno)
		}
	}
	if errno, _ := c.do(wire.CmdRead, 0, 0, 512, nil); errno != 0 {
		t.Errorf("read: errno %d", errno)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}
