package vhd

import "gotap.dev/libtap/control/wire"

// ImageCounts reports the chain's images with the requests that reached
// each (libvhd counts them as blktap's tapdisk does).
func (d *Disk) ImageCounts() []wire.Image {
	layers := d.im.Counts()
	out := make([]wire.Image, len(layers))
	for i, l := range layers {
		driver := "vhd"
		if l.Raw {
			driver = "aio"
		}
		out[i] = wire.Image{Path: l.Path, Driver: driver, Hits: l.Hits, Fail: l.Fail}
	}
	return out
}
