// Package livesnap takes a live snapshot of a disk a tapdisk serves, as
// blktap's xmsnap does: pause the VBD, make the image it serves (the
// leaf) the read-only parent of a new differencing VHD, and resume the
// VBD on that new leaf. The frontends see a short stall, never an error.
//
// Take never leaves the disk paused or pointing at a broken chain: when
// a step after the pause fails, it resumes the VBD on the image it was
// serving, removes the new leaf if the tapdisk never used it, and
// returns the error.
package livesnap

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
)

// Options tune Take.
type Options struct {
	// Name is the new leaf's path. Empty: <base>.snapN.vhd beside the
	// current leaf, N the first number free (see DefaultName).
	Name string
}

// Result says what Take did.
type Result struct {
	Minor  int           `json:"minor"`
	Parent string        `json:"parent"` // the image served before, type:path; now the leaf's parent
	Leaf   string        `json:"leaf"`   // the new leaf's path
	Image  string        `json:"image"`  // what the minor serves now: vhd:Leaf
	Paused time.Duration `json:"paused_ns"`
}

// ErrStillPaused: a step failed and so did the resume on the original
// image; the disk stays paused until someone resumes it (tap-ctl
// unpause).
var ErrStillPaused = errors.New("resuming the original image failed too: the disk stays paused")

// rollbackTimeout bounds the resume on the original image after a
// failure; tapdisk retries a reopen for up to 10 s.
const rollbackTimeout = time.Minute

// Take snapshots the image served as minor by the tapdisk c speaks to.
// ctx bounds the work before the pause; once the VBD is paused, Take
// finishes or rolls back whatever ctx does, since giving up half-way
// would leave the disk paused.
func Take(ctx context.Context, c *control.Client, minor int, opts Options) (res Result, err error) {
	res.Minor = minor
	info, err := c.Stats(ctx, minor)
	if err != nil {
		return res, fmt.Errorf("stats: %w", err)
	}
	res.Parent = info.Image
	chain, err := snapshotable(info)
	if err != nil {
		return res, err
	}
	name, err := leafPath(opts.Name)
	if err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	paused := context.WithoutCancel(ctx)
	start := time.Now()
	defer func() { res.Paused = time.Since(start) }()
	if err := c.Pause(paused, minor); err != nil {
		// A pause that failed closing the image still left it paused.
		return res, rollback(paused, c, minor, fmt.Errorf("pause: %w", err))
	}
	leaf, err := create(chain.Image, name)
	if err != nil {
		return res, rollback(paused, c, minor, fmt.Errorf("snapshot: %w", err))
	}
	// The same filter layers over the new leaf: a rate limit or a fault
	// injected stays in force across the snapshot.
	image := disk.Chain{Layers: chain.Layers, Image: disk.Spec{Type: "vhd", Path: leaf}}.String()
	if err := c.Resume(paused, minor, image); err != nil {
		err = fmt.Errorf("resume on %s: %w", image, err)
		return res, rollback(paused, c, minor, errors.Join(err, discard(leaf, err)))
	}
	res.Leaf, res.Image = leaf, image
	return res, nil
}

// snapshotable checks that info's image (under its filter layers) can be
// the parent of a VHD and that nobody else holds the VBD paused
// (resuming it would undo their work).
func snapshotable(info wire.Info) (disk.Chain, error) {
	c, err := disk.ParseChain(info.Image)
	if err != nil {
		return c, fmt.Errorf("minor %d: %w", info.Minor, err)
	}
	if t := c.Image.Type; t != "vhd" && t != "aio" {
		return c, fmt.Errorf("minor %d serves %s: only vhd and aio images can have a snapshot: %w", info.Minor, info.Image, syscall.EOPNOTSUPP)
	}
	if info.State&(wire.Paused|wire.PauseRequested|wire.Closed) != 0 {
		return c, fmt.Errorf("minor %d is %s: snapshot only a running disk: %w", info.Minor, info.State, syscall.EBUSY)
	}
	return c, nil
}

// rollback resumes minor on the image it served and returns cause, with
// the resume's own failure if that fails too.
func rollback(ctx context.Context, c *control.Client, minor int, cause error) error {
	ctx, cancel := context.WithTimeout(ctx, rollbackTimeout)
	defer cancel()
	if err := c.Resume(ctx, minor, ""); err != nil {
		return fmt.Errorf("%w; %w: %w", cause, ErrStillPaused, err)
	}
	return cause
}

// discard removes a new leaf the tapdisk refused to open, so a retry
// does not find it. Only a refusal proves the tapdisk never wrote to it:
// after a lost reply it may be serving it.
func discard(leaf string, resumeErr error) error {
	if _, refused := errors.AsType[*control.Error](resumeErr); !refused {
		return nil
	}
	if err := removeLeaf(leaf); err != nil {
		return fmt.Errorf("remove unused leaf: %w", err)
	}
	return nil
}
