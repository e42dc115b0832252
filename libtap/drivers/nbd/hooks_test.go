package nbd

import "gotap.dev/libtap/nbd/wire"

// Hooks for the external tests: how many connections a disk opened,
// the largest request it sends, and requests sent on one connection.

func (d *Disk) Conns() int { return len(d.conns) }

func (d *Disk) MaxRequest() int64 { return d.maxReq }

func (d *Disk) ReadOn(i int, b []byte, off int64) error {
	return d.doOn(d.conns[i], &call{typ: wire.CmdRead, off: off, n: int64(len(b)), in: b})
}

func (d *Disk) WriteOn(i int, b []byte, off int64) error {
	return d.doOn(d.conns[i], &call{typ: wire.CmdWrite, off: off, n: int64(len(b)), out: b})
}

func (d *Disk) FlushOn(i int) error {
	return d.doOn(d.conns[i], &call{typ: wire.CmdFlush})
}
