package libvhd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Coalesce writes every sector a differencing image holds into its parent
// (blktap's vhd-util coalesce), or with Ancestor merges the run of images
// from the child down to that ancestor into it. The child and the images
// between are only read; the target, a VHD or a raw file, changes only
// at sectors the merged images hold, where the chain through the child
// reads them anyway.
//
// Crash safety without a journal: at every instant the chain through the
// child reads as it did before, because nothing the child's view depends
// on is ever written. The child and the images between it and the target
// are read-only; in the target, only sectors some merged image holds are
// written, and the child's view of those comes from that image, not the
// target. The target itself stays a valid image: a new block becomes
// reachable only once its data and bitmap are durable (alloc.go, flush.go:
// the copy defers its metadata to flushes, it is never written in place
// before its data). A crash can only leave the target holding part of the
// data, with old, new or (after a power cut, where a bitmap bit landed
// before its data) zero sectors at places the merged images hold, and
// running Coalesce again writes them all: it finishes the job. So no
// step needs to be undone, and no journal is kept. What would need one,
// changing what the chain reads (dropping the merged images from it), is
// not done here: it is the caller's, after Coalesce returned.
func Coalesce(child string, opts CoalesceOptions) (res CoalesceResult, err error) {
	im, err := Open(child, OpenOptions{ReadOnly: true, FS: opts.FS, ParentDirs: opts.ParentDirs})
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, im.Close()) }()
	if im.Type() != Differencing {
		return res, fmt.Errorf("%s: %w", child, ErrNotDifferencing)
	}
	base := 1
	if opts.Ancestor != "" {
		if base, err = im.depthOf(opts.Ancestor); err != nil {
			return res, err
		}
	}
	return im.copyDown(context.Background(), 0, base, opts)
}

// Commit is Coalesce inside the process serving im: it copies what layers
// top..base-1 of im's chain hold (depth 0 is im, 1 its parent...), the
// topmost one's sector winning, into layer base, while im goes on serving
// reads and writes. Readers never see a change: what is written into base
// is what the chain already reads from the layers above it. Layer base is
// upgraded to writable and exclusive for the copy (coalesce_target.go)
// and returned to read-only shared at the end; an error matching
// imagelock.ErrLocked says another process reads or writes it. The leaf
// is never merged live (top ≥ 1). Cancelling ctx stops the copy between
// blocks: base is then valid and holds part of the data, which is
// harmless, and a new Commit finishes the work.
func (im *Image) Commit(ctx context.Context, top, base int, opts CoalesceOptions) (CoalesceResult, error) {
	if top < 1 {
		return CoalesceResult{}, fmt.Errorf("commit layers %d..%d of %s: %w: the leaf is never merged live", top, base, im.path, ErrOutOfRange)
	}
	return im.copyDown(ctx, top, base, opts)
}

// CoalesceOptions tune Coalesce and Commit.
type CoalesceOptions struct {
	// Ancestor names the image to merge into (Coalesce only); default:
	// the child's parent.
	Ancestor string
	// Sparse skips all-zero data that would land in a block the target
	// (a dynamic VHD) does not hold: that space reads zeros already.
	Sparse bool
	// Progress, if not nil, is called after each block of the virtual
	// disk with the bytes of the disk gone through and its size.
	Progress func(done, total int64)
	// ParentDirs and FS open the chain (Coalesce only: Commit works on
	// the chain already open): see OpenOptions.
	ParentDirs []string
	FS         FS
}

// CoalesceResult is what a coalesce did.
type CoalesceResult struct {
	// Sectors is what blktap prints as "Coalesced N sectors": the sectors
	// of the disk the merged images hold, each counted once. For a single
	// child that is blktap's count, the set bits of the child's bitmaps,
	// except that blktap counts a block its batmap marks full as a whole
	// block even where it passes the end of the disk.
	Sectors int64
	Target  string   // the image written into
	Merged  []string // the images whose data it now holds, child first
}

// ErrNotAncestor: Coalesce's Ancestor is not below the child in its chain.
var ErrNotAncestor = errors.New("not an ancestor of the image")

// depthOf finds path among im's ancestors (depth ≥ 1).
func (im *Image) depthOf(path string) (int, error) {
	d := 1
	for l := im.parent; l != nil; l, d = l.next(), d+1 {
		if im.samePath(l.name(), path) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%s: %w %s", path, ErrNotAncestor, im.path)
}

// samePath reports whether two names lead to one file: by identity on
// the real file system, else by name.
func (im *Image) samePath(a, b string) bool {
	if _, ok := im.fsys.(OSFS); ok {
		sa, erra := os.Stat(a)
		sb, errb := os.Stat(b)
		if erra == nil && errb == nil {
			return os.SameFile(sa, sb)
		}
	}
	return filepath.Clean(a) == filepath.Clean(b)
}
