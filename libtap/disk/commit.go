package disk

import "context"

// Committer is a driver whose image chain can merge some of its layers
// into a layer below them while it serves (vhd): the copy changes no
// byte the chain reads, so only dropping the merged layers from the
// chain needs the driver closed.
type Committer interface {
	// Commit copies what layers top..base-1 hold (0 is the leaf, which
	// is never merged live) into layer base, topmost first. progress,
	// if not nil, is called with the bytes done and the total.
	Commit(ctx context.Context, top, base int, progress func(done, total int64)) (Commit, error)
}

// Commit is a finished copy and what is left to do.
type Commit struct {
	Sectors int64    // sectors copied, as vhd-util coalesce counts them
	Merged  []string // the images that leave the chain at Relink
	// Relink points the layer above the merged ones at layer base. Call
	// it with the driver closed; the chain reopens without them.
	Relink func() error
}

// Unwrapper is a filter layer: the driver it stacks over.
type Unwrapper interface {
	Unwrap() Driver
}

// Find returns the first driver of d's stack, from the top through its
// filter layers, that is a T.
func Find[T any](d Driver) (T, bool) {
	for {
		if t, ok := d.(T); ok {
			return t, true
		}
		u, ok := d.(Unwrapper)
		if !ok {
			var zero T
			return zero, false
		}
		d = u.Unwrap()
	}
}
