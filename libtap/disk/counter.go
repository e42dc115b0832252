package disk

import "gotap.dev/libtap/control/wire"

// Counter is a driver that counts the requests reaching each image of
// its chain (vhd). For another driver the VBD reports one image with its
// own counts.
type Counter interface {
	ImageCounts() []wire.Image
}
