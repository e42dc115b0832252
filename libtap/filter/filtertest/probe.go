// Package filtertest helps test filters: a Probe slipped between two
// layers records every call that crosses it, into a Log several probes
// share, so a test sees the order calls travel down a stack and where
// each stopped.
package filtertest

import (
	"fmt"
	"sync"

	"gotap.dev/libtap/disk"
)

// Log is the calls the probes saw, in order.
type Log struct {
	mu    sync.Mutex
	calls []string
}

// Take returns the calls logged since the last Take, as "PROBE OP
// OFF+LEN" (flush and close: "PROBE OP").
func (l *Log) Take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.calls
	l.calls = nil
	return c
}

func (l *Log) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

// Probe passes every call on to the driver below, logging it first.
type Probe struct {
	Next disk.Driver
	Name string
	Log  *Log
}

func (p *Probe) log(op string, off, n int64) {
	p.Log.add(fmt.Sprintf("%s %s %d+%d", p.Name, op, off, n))
}

func (p *Probe) Size() int64     { return p.Next.Size() }
func (p *Probe) Caps() disk.Caps { return p.Next.Caps() }

func (p *Probe) ReadV(bufs [][]byte, off int64) error {
	p.log("read", off, disk.TotalLen(bufs))
	return p.Next.ReadV(bufs, off)
}

func (p *Probe) WriteV(bufs [][]byte, off int64, fua bool) error {
	p.log("write", off, disk.TotalLen(bufs))
	return p.Next.WriteV(bufs, off, fua)
}

func (p *Probe) Flush() error {
	p.Log.add(p.Name + " flush")
	return p.Next.Flush()
}

func (p *Probe) Trim(off, n int64) error {
	p.log("trim", off, n)
	return p.Next.Trim(off, n)
}

func (p *Probe) WriteZeroes(off, n int64, noHole, fastZero bool) error {
	p.log("zero", off, n)
	return p.Next.WriteZeroes(off, n, noHole, fastZero)
}

func (p *Probe) Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error) {
	p.log("extents", off, n)
	return p.Next.Extents(dst, off, n)
}

func (p *Probe) Close() error {
	p.Log.add(p.Name + " close")
	return p.Next.Close()
}
