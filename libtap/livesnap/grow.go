package livesnap

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libvhd"
)

// GrowResult says what Grow did.
type GrowResult struct {
	Minor  int           `json:"minor"`
	Image  string        `json:"image"`
	From   int64         `json:"from"` // bytes
	To     int64         `json:"to"`
	Paused time.Duration `json:"paused_ns"`
}

// Grow makes the disk served as minor size bytes while it serves: pause,
// grow the VHD leaf within the BAT entries reserved at its creation
// (libvhd.Resize, Fast: nothing moves, no journal), resume on it. The
// VBD takes the larger size; NBD connections made after see it, those
// open keep the size they were told. A smaller size is refused before
// the pause; a leaf without room fails in it, and the disk resumes as
// it was.
func Grow(ctx context.Context, c *control.Client, minor int, size int64) (res GrowResult, err error) {
	res.Minor = minor
	info, err := c.Stats(ctx, minor)
	if err != nil {
		return res, fmt.Errorf("stats: %w", err)
	}
	res.Image, res.From, res.To = info.Image, info.Size, info.Size
	chain, err := snapshotable(info)
	if err != nil {
		return res, err
	}
	switch {
	case chain.Image.Type != "vhd":
		return res, fmt.Errorf("minor %d serves %s: only a vhd leaf grows live: %w", minor, info.Image, syscall.EOPNOTSUPP)
	case size < info.Size:
		return res, fmt.Errorf("minor %d: %w", minor, &libvhd.SizeError{Size: size, Current: info.Size})
	case size == info.Size:
		return res, nil
	}
	paused := context.WithoutCancel(ctx)
	start := time.Now()
	defer func() { res.Paused = time.Since(start) }()
	if err := c.Pause(paused, minor); err != nil {
		return res, rollback(paused, c, minor, fmt.Errorf("pause: %w", err))
	}
	if err := libvhd.Resize(chain.Image.Path, size, libvhd.ResizeOptions{Fast: true}); err != nil {
		return res, rollback(paused, c, minor, err)
	}
	if err := c.Resume(paused, minor, ""); err != nil {
		return res, rollback(paused, c, minor, fmt.Errorf("resume: %w", err))
	}
	res.To = size
	return res, nil
}
