package vbd

import (
	"syscall"

	"gotap.dev/libtap/disk"
)

// closedDriver stands in for the chain once there is none to serve: the
// requests a VBD closed while paused still holds, and any Extents after
// Close, fail with ENXIO instead of waiting forever or reaching a closed
// driver.
type closedDriver struct{ size int64 }

func (c closedDriver) Size() int64                              { return c.size }
func (closedDriver) Caps() disk.Caps                            { return disk.Caps{ReadOnly: true} }
func (closedDriver) ReadV([][]byte, int64) error                { return syscall.ENXIO }
func (closedDriver) WriteV([][]byte, int64, bool) error         { return syscall.ENXIO }
func (closedDriver) Flush() error                               { return nil }
func (closedDriver) Trim(int64, int64) error                    { return syscall.ENXIO }
func (closedDriver) WriteZeroes(int64, int64, bool, bool) error { return syscall.ENXIO }
func (closedDriver) Close() error                               { return nil }
func (closedDriver) Extents(d []disk.Extent, _, _ int64) ([]disk.Extent, error) {
	return d, syscall.ENXIO
}
