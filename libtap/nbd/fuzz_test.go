package nbd_test

import (
	"testing"

	"gotap.dev/libtap/nbd/wire"
)

// The NBD server's fuzz targets drive the real server (negotiation,
// reader, writer, ring) over a socket pair, against theFuzzExport. Seeds
// are what our own client, the nbd: driver, sends (recordClient), and
// options encoded with the protocol package's own encoders. Every input
// must end with the connection closed, promptly, with every ring slot
// back, and with no request outside the disk passed to it.

// FuzzHandshake feeds any bytes to the server as a client's negotiation
// and whatever follows it. Every option the input holds whole must get
// replies echoing it, ending in an acknowledgement or an error, before
// the next option's; nothing may be answered that was not asked.
func FuzzHandshake(f *testing.F) {
	rec := recordClient(f)
	f.Add(append(rec.handshake, rec.transmission...))
	for _, seed := range optionSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s := startSession(t)
		s.send(data)
		if s.checkNegotiation(data) {
			s.drain() // transmission: FuzzRequests judges it
		}
		s.finish()
	})
}

// FuzzRequests negotiates as our client does (with structured replies,
// or without them), then feeds any bytes to the server as requests. The
// server must answer every request it read, in order (the export
// completes them at once), with the request's cookie, and succeed only
// on requests the protocol allows: never on I/O outside the disk.
func FuzzRequests(f *testing.F) {
	rec := recordClient(f)
	f.Add(true, rec.transmission)
	f.Add(false, rec.transmission)
	f.Fuzz(func(t *testing.T, structured bool, data []byte) {
		hs := plainHandshake()
		if structured {
			hs = rec.handshake
		}
		s := startSession(t)
		s.send(append(append([]byte(nil), hs...), data...))
		s.skipNegotiation()
		for _, r := range requestsIn(data) {
			s.checkReply(r, structured)
		}
		s.finish()
	})
}

// clientFlags are the flags our client sends.
var clientFlags = be.AppendUint32(nil, wire.ClientFixedNewstyle|wire.ClientNoZeroes)

// plainHandshake negotiates nothing but the export: simple replies only.
func plainHandshake() []byte {
	return option(clientFlags, wire.OptGo, wire.AppendExportQuery(nil, "disk"))
}

// optionSeeds are negotiations with one option each, of every kind the
// server knows and a few it must refuse.
func optionSeeds() [][]byte {
	meta := wire.AppendMetaQuery(nil, "disk", "base:")
	return [][]byte{
		option(clientFlags, wire.OptList, nil),
		option(clientFlags, wire.OptInfo, wire.AppendExportQuery(nil, "disk")),
		option(option(clientFlags, wire.OptStructuredReply, nil), wire.OptListMetaContext, meta),
		option(clientFlags, wire.OptStartTLS, nil),
		option(clientFlags, wire.OptAbort, nil),
		option(clientFlags, wire.OptExportName, []byte("disk")),
		option(clientFlags, wire.OptStructuredReply, []byte("junk")),
		option(clientFlags, 0x4242, nil),
		wire.OptionHeader{Opt: wire.OptList, Length: 1 << 20}.Append(clientFlags), // data too long, then missing
	}
}

// option appends an option with its data to b.
func option(b []byte, opt uint32, data []byte) []byte {
	return append(wire.OptionHeader{Opt: opt, Length: uint32(len(data))}.Append(b), data...)
}
