package wire_test

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"gotap.dev/libtap/nbd/wire"
)

// layout decodes a structure's layout as the protocol draws it, in hex
// with spaces between the fields.
func layout(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parser adapts a structure's Parse to the table: it decodes b, of the
// structure's size, into a new T.
func parser[T any](parse func(*T, []byte) bool) func([]byte) (any, bool) {
	return func(b []byte) (any, bool) {
		var v T
		ok := parse(&v, b)
		return v, ok
	}
}

// TestFixedStructures: each fixed structure encodes to the protocol's
// layout after whatever the slice held, and decodes back to itself; one
// with a magic refuses a wrong magic.
func TestFixedStructures(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		val   interface{ Append([]byte) []byte }
		parse func([]byte) (any, bool)
		want  string
		magic bool
	}{
		{"greeting", wire.GreetingSize, wire.Greeting{Flags: wire.FlagFixedNewstyle | wire.FlagNoZeroes},
			parser(func(g *wire.Greeting, b []byte) bool { return g.Parse((*[wire.GreetingSize]byte)(b)) }),
			"4e42444d41474943 49484156454f5054 0003", true},
		{"option header", wire.OptionHeaderSize, wire.OptionHeader{Opt: wire.OptGo, Length: 0x0102},
			parser(func(h *wire.OptionHeader, b []byte) bool { return h.Parse((*[wire.OptionHeaderSize]byte)(b)) }),
			"49484156454f5054 00000007 00000102", true},
		{"option reply", wire.OptionReplySize, wire.OptionReply{Opt: wire.OptList, Type: wire.RepErrUnsup, Length: 5},
			parser(func(r *wire.OptionReply, b []byte) bool { return r.Parse((*[wire.OptionReplySize]byte)(b)) }),
			"0003e889045565a9 00000003 80000001 00000005", true},
		{"export", wire.ExportSize, wire.Export{Size: 1 << 40, Flags: wire.FlagHasFlags | wire.FlagReadOnly},
			parser(func(e *wire.Export, b []byte) bool { e.Parse((*[wire.ExportSize]byte)(b)); return true }),
			"0000010000000000 0003", false},
		{"request", wire.RequestSize, wire.Request{Flags: wire.CmdFlagFUA, Type: wire.CmdWrite, Cookie: 0x1122334455667788, Offset: 4096, Length: 512},
			parser(func(r *wire.Request, b []byte) bool { return r.Parse((*[wire.RequestSize]byte)(b)) }),
			"25609513 0001 0001 1122334455667788 0000000000001000 00000200", true},
		{"simple reply", wire.SimpleReplySize, wire.SimpleReply{Errno: wire.ENOSPC, Cookie: 9},
			parser(func(r *wire.SimpleReply, b []byte) bool { return r.Parse((*[wire.SimpleReplySize]byte)(b)) }),
			"67446698 0000001c 0000000000000009", true},
		{"chunk header", wire.ChunkHeaderSize, wire.ChunkHeader{Flags: wire.ReplyFlagDone, Type: wire.ReplyError, Cookie: 7, Length: 6},
			parser(func(h *wire.ChunkHeader, b []byte) bool { return h.Parse((*[wire.ChunkHeaderSize]byte)(b)) }),
			"668e33ef 0001 8001 0000000000000007 00000006", true},
		{"hole", wire.HoleSize, wire.Hole{Offset: 1 << 20, Length: 4096},
			parser(func(h *wire.Hole, b []byte) bool { h.Parse((*[wire.HoleSize]byte)(b)); return true }),
			"0000000000100000 00001000", false},
		{"error payload", wire.ErrorPayloadSize, wire.ErrorPayload{Errno: wire.EPERM, MessageLen: 2},
			parser(func(p *wire.ErrorPayload, b []byte) bool { p.Parse((*[wire.ErrorPayloadSize]byte)(b)); return true }),
			"00000001 0002", false},
		{"descriptor", wire.DescriptorSize, wire.Descriptor{Length: 65536, Flags: wire.StateHole | wire.StateZero},
			parser(func(d *wire.Descriptor, b []byte) bool { d.Parse((*[wire.DescriptorSize]byte)(b)); return true }),
			"00010000 00000003", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const prefix = "before"
			b := tc.val.Append([]byte(prefix))
			if want := layout(t, tc.want); string(b[:len(prefix)]) != prefix || !bytes.Equal(b[len(prefix):], want) {
				t.Fatalf("Append = % x; want % x after %q", b, want, prefix)
			}
			b = b[len(prefix):]
			if len(b) != tc.size {
				t.Errorf("Append wrote %d bytes; the size is %d", len(b), tc.size)
			}
			if got, ok := tc.parse(b); !ok || got != any(tc.val) {
				t.Errorf("Parse(Append(%+v)) = %+v, %v; want it, true", tc.val, got, ok)
			}
			if tc.magic {
				b[0] ^= 0xff
				if _, ok := tc.parse(b); ok {
					t.Errorf("Parse of a wrong magic = true; want false")
				}
			}
		})
	}
}
