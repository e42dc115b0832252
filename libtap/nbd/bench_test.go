package nbd_test

import (
	"io"
	"testing"

	"gotap.dev/libtap/nbd"
)

// BenchmarkRequests measures 4 KiB reads and writes through a Unix
// socket, the server, the ring, the scheduler and the ram driver, with
// depth requests in flight. The client side allocates nothing itself, so
// allocs/op is the server's.
func BenchmarkRequests(b *testing.B) {
	for _, bc := range []struct {
		name       string
		cmd        uint16
		structured bool
	}{
		{"read-4k-simple", nbd.CmdRead, false},
		{"read-4k-structured", nbd.CmdRead, true},
		{"write-4k", nbd.CmdWrite, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchRequests(b, bc.cmd, bc.structured, 16) })
	}
}

func benchRequests(b *testing.B, cmd uint16, structured bool, depth int) {
	s := serve(b, "ram:64M")
	c := dialRaw(b, s.sock, structured)
	defer c.nc.Close()
	const bs = 4096
	// One request (header and, for a write, payload) per slot of depth,
	// encoded once.
	out := make([]byte, 0, depth*(nbd.RequestSize+bs))
	for i := range depth {
		var h [nbd.RequestSize]byte
		(&nbd.Request{Type: cmd, Cookie: uint64(i), Offset: uint64(i) * bs, Length: bs}).Put(&h)
		out = append(out, h[:]...)
		if cmd == nbd.CmdWrite {
			out = append(out, make([]byte, bs)...)
		}
	}
	replyLen := nbd.SimpleReplySize
	if cmd == nbd.CmdRead {
		replyLen += bs
		if structured {
			replyLen = nbd.ChunkHeaderSize + 8 + bs
		}
	}
	in := make([]byte, replyLen)
	b.SetBytes(bs)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += depth {
		if _, err := c.nc.Write(out); err != nil {
			b.Fatal(err)
		}
		for range depth {
			if _, err := io.ReadFull(c.nc, in); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// TestRequestPathAllocatesNothing: steady-state requests allocate
// nothing, in the server or below it.
func TestRequestPathAllocatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("benchmark")
	}
	for _, cmd := range []uint16{nbd.CmdRead, nbd.CmdWrite} {
		r := testing.Benchmark(func(b *testing.B) { benchRequests(b, cmd, true, 16) })
		if a := r.AllocsPerOp(); a != 0 {
			t.Errorf("cmd %d: %d allocs/op (%d B/op); want 0", cmd, a, r.AllocedBytesPerOp())
		}
	}
}
