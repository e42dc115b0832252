package libvhd

import (
	"fmt"
	"time"
)

// SnapshotOptions tune Snapshot (`vhd-util snapshot`).
type SnapshotOptions struct {
	ParentRaw bool // the parent is a raw file or device (-m)
	// MaxDepth refuses a snapshot whose chain, the new child included,
	// would be deeper than this (-l); 0: no limit.
	MaxDepth int
	// KeepEmpty links to the parent as given even when it is an empty
	// differencing image (-e). By default, as blktap does, the child links
	// past empty differencing ancestors to the first one holding data: an
	// empty image adds a level to every read and nothing else.
	KeepEmpty bool
	MaxSize   int64 // size the BAT for growth up to this (-S)
	// ParentDirs: see OpenOptions.ParentDirs.
	ParentDirs []string
	FS         FS
	Now        func() time.Time
}

// Snapshot creates child as a differencing image of parent (or of the
// ancestor it links past) and opens it for writing with its chain.
func Snapshot(child, parent string, opts SnapshotOptions) (*Image, error) {
	target, raw, depth, err := snapshotTarget(parent, opts)
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", child, err)
	}
	if opts.MaxDepth > 0 && depth+1 > opts.MaxDepth {
		return nil, fmt.Errorf("snapshot %s of %s: %w: chain would be %d deep, limit %d", child, target, ErrChainTooDeep, depth+1, opts.MaxDepth)
	}
	return Create(child, CreateOptions{Parent: target, ParentRaw: raw, MaxSize: opts.MaxSize, ParentDirs: opts.ParentDirs, FS: opts.FS, Now: opts.Now})
}

// snapshotTarget picks the image the child links to and returns its path,
// whether it is raw, and the depth of its chain.
func snapshotTarget(parent string, opts SnapshotOptions) (path string, raw bool, depth int, err error) {
	if opts.ParentRaw {
		r, err := openRaw(parent, OpenOptions{FS: opts.FS})
		if err != nil {
			return "", false, 0, fmt.Errorf("open raw parent: %w", err)
		}
		return parent, true, 1, r.close()
	}
	p, err := Open(parent, OpenOptions{ReadOnly: true, FS: opts.FS, ParentDirs: opts.ParentDirs})
	if err != nil {
		return "", false, 0, fmt.Errorf("open parent: %w", err)
	}
	defer p.Close()
	var l layer = p
	for !opts.KeepEmpty {
		im, ok := l.(*Image)
		if !ok || im.Type() != Differencing || im.AllocatedBlocks() > 0 {
			break
		}
		l = im.parent
	}
	_, raw = l.(*rawLayer)
	for n := l; n != nil; n = n.next() {
		depth++
	}
	return l.name(), raw, depth, nil
}
