package libvhd

import (
	"errors"
	"fmt"

	"gotap.dev/libvhd/imagefile"
)

// Sentinel errors. Each failure to open or validate an image wraps one of
// these in a *FormatError, so callers can test with errors.Is and still
// print where the problem is.
var (
	ErrFooterCookie    = errors.New("bad footer cookie")
	ErrFooterChecksum  = errors.New("footer checksum mismatch")
	ErrNoFooter        = errors.New("no valid footer")
	ErrDiskType        = errors.New("unsupported disk type")
	ErrTooLarge        = errors.New("disk larger than 2040 GiB")
	ErrHeaderCookie    = errors.New("bad dynamic header cookie")
	ErrHeaderChecksum  = errors.New("dynamic header checksum mismatch")
	ErrHeaderVersion   = errors.New("unsupported dynamic header version")
	ErrNextOffset      = errors.New("dynamic header next offset is not all ones")
	ErrBlockSize       = errors.New("invalid block size")
	ErrTableSize       = errors.New("invalid max table entries")
	ErrTruncated       = errors.New("file too short")
	ErrBATEntry        = errors.New("BAT entry out of range")
	ErrParentNotFound  = errors.New("parent not found")
	ErrParentUUID      = errors.New("parent UUID mismatch")
	ErrChainTooDeep    = errors.New("parent chain too deep")
	ErrOutOfRange      = errors.New("access beyond the end of the disk")
	ErrReadOnly        = errors.New("image is read-only")
	ErrClosed          = errors.New("image is closed")
	ErrPoisoned        = errors.New("image is disabled by an unfinished journaled operation")
	ErrNotDifferencing = errors.New("not a differencing image")
	// ErrFileType: a FIFO, socket, character device or directory named
	// as an image or parent; only regular files and block devices are.
	ErrFileType = imagefile.ErrType
	// ErrParentRefused: the parent policy (parentpolicy.go) refuses the
	// file a differencing image names as its parent.
	ErrParentRefused = errors.New("parent refused")
	// ErrBlockOverlap: a BAT entry puts a block over metadata, over
	// another block or past the EOF footer (blockconflict.go).
	ErrBlockOverlap = errors.New("block lies over metadata, another block or the footer")
	// ErrMetadataOverlap: two of the image's metadata structures (footer
	// copy, dynamic header, BAT, batmap, locator data) lie over each
	// other (blockconflict.go).
	ErrMetadataOverlap = errors.New("metadata lies over other metadata")
)

// FormatError says which structure and field of which file is wrong.
type FormatError struct {
	Path   string // file the problem is in; may be empty for in-memory structures
	Offset int64  // byte offset of the structure in the file, -1 if unknown
	Field  string // e.g. "footer.checksum", "header.block_size"
	Value  any    // the offending value, nil if not useful
	Err    error  // one of the sentinel errors above
}

func (e *FormatError) Error() string {
	s := e.Err.Error()
	if e.Value != nil {
		s = fmt.Sprintf("%s (%s = %v)", s, e.Field, e.Value)
	} else if e.Field != "" {
		s = fmt.Sprintf("%s (%s)", s, e.Field)
	}
	if e.Offset >= 0 {
		s = fmt.Sprintf("%s at offset %#x", s, e.Offset)
	}
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(field string, value any, err error) *FormatError {
	return &FormatError{Offset: -1, Field: field, Value: value, Err: err}
}
