package libvhd

import (
	"context"
	"errors"
	"fmt"
	"io"
)

// Convert copies a whole disk into a new raw file, fixed VHD or
// standalone dynamic VHD, keeping holes: what the source reports
// unallocated is neither read nor written, and what reads as zeros is
// not written, so it stays a hole in a raw or fixed file and an
// unallocated block (or clear bitmap bits) in a dynamic one.
//
// The copy is written under a temporary name beside the destination
// (convert_dest.go) and renamed into place once durable: an interrupted
// convert never leaves a file under the destination's name.

// ConvertSource is a disk to copy: a VHD chain, a raw file, a disk an
// NBD server exports.
type ConvertSource interface {
	Size() int64
	// ReadAt reads within the disk, as io.ReaderAt.
	io.ReaderAt
	// AppendRuns appends the allocation map of [off, off+n) to dst,
	// in order and covering the range.
	AppendRuns(dst []Run, off, n int64) ([]Run, error)
}

// Run is a stretch of a source disk: data, or a hole that reads as zeros.
type Run struct {
	Offset, Length int64
	Hole           bool
}

// ConvertFormat is what Convert writes.
type ConvertFormat uint8

const (
	ToDynamic ConvertFormat = iota // a dynamic VHD holding only blocks with data
	ToFixed                        // a fixed VHD: the raw disk and a footer, sparse
	ToRaw                          // a raw file of the disk's size, sparse
)

// ConvertOptions tune Convert.
type ConvertOptions struct {
	Format ConvertFormat
	// MaxSize sizes a dynamic image's BAT for growth, as
	// CreateOptions.MaxSize.
	MaxSize int64
	// Overwrite replaces an existing regular file at the destination
	// (only once the copy is complete); without it one is refused.
	Overwrite bool
	// Progress, if set, is called after each piece copied with the
	// bytes of the disk done so far and its size.
	Progress func(done, total int64)
}

// ConvertResult says what the copy did with the disk's bytes.
type ConvertResult struct {
	Size    int64 // the disk's size
	Written int64 // bytes of data written
	Zeros   int64 // bytes read and found zero: left as holes
	Holes   int64 // bytes the source reported as holes: not even read
}

// Sizes a VHD cannot have; a raw destination takes any size.
var (
	// ErrPartialSector: the source's size is not a whole number of
	// sectors, which a VHD's size must be.
	ErrPartialSector = errors.New("size is not a whole number of 512-byte sectors, as a VHD's must be")
	// ErrEmptyDisk: the source holds no byte; a VHD holds a sector at least.
	ErrEmptyDisk = errors.New("empty disk: a VHD holds one sector at least")
)

const (
	// mapWindow is how much of the source's allocation map is asked for
	// at once: a round trip per window over NBD.
	mapWindow = 64 << 20
	// copyChunk is the most read at once: one default block, so a
	// dynamic image's blocks are mostly allocated in one write.
	copyChunk = DefaultBlockSize
	// zeroGrain is the unit of zero detection, aligned on the disk: a
	// file system block, and 8 sectors of a bitmap.
	zeroGrain = 4096
)

// Convert copies src into a new file at dst (see the comment above).
func Convert(ctx context.Context, dst string, src ConvertSource, opts ConvertOptions) (ConvertResult, error) {
	res := ConvertResult{Size: src.Size()}
	if err := vhdSizeError(res.Size); opts.Format != ToRaw && err != nil {
		return res, fmt.Errorf("convert to %s: source of %d bytes: %w", dst, res.Size, err)
	}
	if err := checkDestination(dst, opts.Overwrite); err != nil {
		return res, err
	}
	out, err := createDestination(dst, res.Size, opts)
	if err != nil {
		return res, err
	}
	if err := copyDisk(ctx, out, src, &res, opts.Progress); err != nil {
		out.abandon()
		return res, fmt.Errorf("convert to %s: %w", dst, err)
	}
	return res, out.commit(opts.Overwrite)
}

// vhdSizeError says why a VHD cannot have size bytes; nil if it can.
func vhdSizeError(size int64) error {
	switch {
	case size == 0:
		return ErrEmptyDisk
	case size%SectorSize != 0:
		return ErrPartialSector
	case size > MaxDiskSize:
		return ErrTooLarge
	}
	return nil
}

// copyDisk copies every data run of src into w, window by window.
func copyDisk(ctx context.Context, w io.WriterAt, src ConvertSource, res *ConvertResult, progress func(done, total int64)) error {
	buf := make([]byte, copyChunk)
	var runs []Run
	for off := int64(0); off < res.Size; off += mapWindow {
		end := min(off+mapWindow, res.Size)
		var err error
		if runs, err = src.AppendRuns(runs[:0], off, end-off); err != nil {
			return fmt.Errorf("allocation map at %d: %w", off, err)
		}
		err = eachRun(runs, off, end, func(r Run) error {
			if r.Hole {
				res.Holes += r.Length
				return nil
			}
			return copyRun(ctx, w, src, r, buf, res, progress)
		})
		if err != nil {
			return err
		}
		if progress != nil {
			progress(end, res.Size)
		}
	}
	return nil
}

// eachRun calls fn for runs in order, clipped to [off, end); what the map
// leaves out is taken for data, so that a source answering for less
// than asked costs reads, never data.
func eachRun(runs []Run, off, end int64, fn func(Run) error) error {
	pos := off
	for _, r := range runs {
		start, stop := max(r.Offset, pos), min(r.Offset+r.Length, end)
		if stop <= start {
			continue
		}
		if start > pos {
			if err := fn(Run{Offset: pos, Length: start - pos}); err != nil {
				return err
			}
		}
		if err := fn(Run{start, stop - start, r.Hole}); err != nil {
			return err
		}
		pos = stop
	}
	if pos < end {
		return fn(Run{Offset: pos, Length: end - pos})
	}
	return nil
}

// copyRun copies one data run in chunks aligned on copyChunk.
func copyRun(ctx context.Context, w io.WriterAt, src ConvertSource, r Run, buf []byte, res *ConvertResult, progress func(done, total int64)) error {
	for off, end := r.Offset, r.Offset+r.Length; off < end; {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(end, (off/copyChunk+1)*copyChunk) - off
		p := buf[:n]
		if _, err := src.ReadAt(p, off); err != nil {
			return fmt.Errorf("read source at %d: %w", off, err)
		}
		if err := writeNonZero(w, p, off, res); err != nil {
			return err
		}
		off += n
		if progress != nil {
			progress(off, res.Size)
		}
	}
	return nil
}

// writeNonZero writes p (read at off) but its zero grains, merging the
// grains with data between them into one write.
func writeNonZero(w io.WriterAt, p []byte, off int64, res *ConvertResult) error {
	start := -1 // of the pending data, in p
	flush := func(end int) error {
		if start < 0 {
			return nil
		}
		if _, err := w.WriteAt(p[start:end], off+int64(start)); err != nil {
			return fmt.Errorf("write at %d: %w", off+int64(start), err)
		}
		res.Written += int64(end - start)
		start = -1
		return nil
	}
	for i := 0; i < len(p); {
		// Grains are aligned on the disk, not on p.
		j := min(len(p), i+zeroGrain-int((off+int64(i))%zeroGrain))
		if allZero(p[i:j]) {
			if err := flush(i); err != nil {
				return err
			}
			res.Zeros += int64(j - i)
		} else if start < 0 {
			start = i
		}
		i = j
	}
	return flush(len(p))
}
