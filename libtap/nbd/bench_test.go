package nbd_test

import (
	"io"
	"log/slog"
	"testing"

	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/vbd"
)

// BenchmarkRequests measures 4 KiB reads and writes through a Unix
// socket, the server, the ring, the scheduler and the ram driver, with
// depth requests in flight. The client side allocates nothing itself, so
// allocs/op is the server's.
//
// The filtered cases put the filter stack over the ram driver with
// nothing to do (no limit, no fault, no delay): what the layers cost
// when a user stacks them "just in case", to be under 5% of the IOPS.
func BenchmarkRequests(b *testing.B) {
	const filtered = "valve::error:rate=0:delay::ram:64M"
	for _, bc := range []struct {
		name       string
		spec       string
		cmd        uint16
		structured bool
		depth      int
	}{
		{"read-4k-simple", "ram:64M", wire.CmdRead, false, 16},
		{"read-4k-structured", "ram:64M", wire.CmdRead, true, 16},
		{"write-4k", "ram:64M", wire.CmdWrite, true, 16},
		{"block-status-4k", "ram:64M", wire.CmdBlockStatus, true, 16},
		{"read-4k-structured-filtered", filtered, wire.CmdRead, true, 16},
		{"write-4k-filtered", filtered, wire.CmdWrite, true, 16},
		// One at a time: each reply is sent by the completing goroutine.
		{"read-4k-structured-qd1", "ram:64M", wire.CmdRead, true, 1},
		{"write-4k-qd1", "ram:64M", wire.CmdWrite, true, 1},
	} {
		b.Run(bc.name, func(b *testing.B) { benchRequests(b, bc.spec, bc.cmd, bc.structured, bc.depth) })
	}
}

func benchRequests(b *testing.B, spec string, cmd uint16, structured bool, depth int) {
	// As serve, with no log lines amid the results.
	v, err := vbd.Open(0, spec, vbd.Options{RingSlots: 64, SlotBuf: 128 << 10, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	s := serveVBD(b, v, nbd.Options{})
	c := dialRaw(b, s.sock, structured)
	defer c.nc.Close()
	const bs = 4096
	// One request (header and, for a write, payload) per slot of depth,
	// encoded once.
	out := make([]byte, 0, depth*(wire.RequestSize+bs))
	for i := range depth {
		out = wire.Request{Type: cmd, Cookie: uint64(i), Offset: uint64(i) * bs, Length: bs}.Append(out)
		if cmd == wire.CmdWrite {
			out = append(out, make([]byte, bs)...)
		}
	}
	replyLen := wire.SimpleReplySize
	if cmd == wire.CmdBlockStatus { // ram is all data: one descriptor
		replyLen = wire.ChunkHeaderSize + wire.ContextIDSize + wire.DescriptorSize
	}
	if cmd == wire.CmdRead {
		replyLen += bs
		if structured {
			replyLen = wire.ChunkHeaderSize + wire.OffsetSize + bs
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
	for _, cmd := range []uint16{wire.CmdRead, wire.CmdWrite, wire.CmdBlockStatus} {
		r := testing.Benchmark(func(b *testing.B) { benchRequests(b, "ram:64M", cmd, true, 16) })
		if a := r.AllocsPerOp(); a != 0 {
			t.Errorf("cmd %d: %d allocs/op (%d B/op); want 0", cmd, a, r.AllocedBytesPerOp())
		}
	}
}
