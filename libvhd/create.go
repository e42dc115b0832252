package libvhd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
)

// CreateOptions describe a new image.
type CreateOptions struct {
	Type DiskType // Fixed, Dynamic or Differencing (implied by Parent)
	// Size in bytes, rounded up to a sector. For a differencing image, 0
	// means the parent's size.
	Size int64
	// MaxSize sizes the BAT and batmap for later growth without moving
	// blocks (vhd-util create -S). 0: just Size.
	MaxSize   int64
	BlockSize uint32 // default 2 MiB
	Parent    string // differencing: the parent's path
	ParentRaw bool   // the parent is a raw file or device, not a VHD
	// ParentDirs: see OpenOptions.ParentDirs. A parent the child could
	// not open under the parent policy is refused before anything is
	// written.
	ParentDirs []string
	FS         FS // default OSFS
	Now        func() time.Time
}

// Create makes a new image (refusing to overwrite an existing file, but
// writing into an existing block device: blockdev.go) and opens it for
// writing. Fixed images are sparse files.
func Create(path string, opts CreateOptions) (*Image, error) {
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Parent != "" {
		opts.Type = Differencing
	}
	if opts.BlockSize == 0 {
		opts.BlockSize = DefaultBlockSize
	}
	plan, err := planCreate(path, &opts)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	f, created, err := createFile(opts.FS, path, plan.footerOff+FooterSize, opts.Type == Fixed)
	if err != nil {
		return nil, fmt.Errorf("create image: %w", err)
	}
	if err := plan.write(f); err != nil {
		f.Close()
		if created {
			os.Remove(path)
		}
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	return Open(path, OpenOptions{FS: opts.FS, ParentDirs: opts.ParentDirs})
}

// createPlan is the bytes of a new image: metadata from offset 0, the
// footer at footerOff. Everything between is a hole.
type createPlan struct {
	meta      []byte
	footer    []byte
	footerOff int64
}

func (p *createPlan) write(f File) error {
	if _, err := f.WriteAt(p.meta, 0); err != nil {
		return err
	}
	if _, err := f.WriteAt(p.footer, p.footerOff); err != nil {
		return err
	}
	return f.Sync()
}

func planCreate(path string, opts *CreateOptions) (*createPlan, error) {
	ft := Footer{
		Cookie:         footerCookie,
		Features:       FeatureReserved,
		Version:        formatVersion,
		Timestamp:      Timestamp(opts.Now()),
		CreatorApp:     CreatorTap,
		CreatorVersion: TapCreatorVersion,
		Type:           opts.Type,
		UUID:           uuid.New(),
	}
	var h Header
	var locators []locatorData
	if opts.Type == Differencing {
		pi, err := describeParent(path, opts)
		if err != nil {
			return nil, err
		}
		if opts.Size == 0 {
			opts.Size = pi.size
		}
		h.ParentUUID, h.ParentTimestamp = pi.uuid, pi.timestamp
		h.SetParentName(filepath.Base(pi.rel))
		for _, l := range locatorPayloads(pi.rel) {
			locators = append(locators, locatorData{l.code, l.data})
		}
	}
	size := roundUp(opts.Size, SectorSize)
	if size <= 0 {
		return nil, fmt.Errorf("size %d: must be positive", opts.Size)
	}
	if size > MaxDiskSize {
		return nil, fmt.Errorf("size %d: %w", size, ErrTooLarge)
	}
	ft.OriginalSize, ft.CurrentSize = uint64(size), uint64(size)
	ft.Geometry = GeometryFor(size)

	if opts.Type == Fixed {
		ft.DataOffset = fixedDataOffset
		fb, _ := ft.MarshalBinary()
		return &createPlan{footer: fb, footerOff: size}, nil
	}
	if opts.Type != Dynamic && opts.Type != Differencing {
		return nil, fmt.Errorf("disk type %d: %w", opts.Type, ErrDiskType)
	}
	return planSparse(ft, h, locators, size, opts)
}

type locatorData struct {
	code uint32
	data []byte
}

// planSparse lays out a dynamic or differencing image as blktap does:
// footer copy, header, BAT, batmap header and map, parent locators.
func planSparse(ft Footer, h Header, locators []locatorData, size int64, opts *CreateOptions) (*createPlan, error) {
	bs := int64(opts.BlockSize)
	if bs < minBlockSize || bs > maxBlockSize || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("block size %d: %w", bs, ErrBlockSize)
	}
	capacity := max(size, roundUp(opts.MaxSize, SectorSize))
	if capacity > MaxDiskSize {
		return nil, fmt.Errorf("max size %d: %w", capacity, ErrTooLarge)
	}
	entries := uint32((capacity + bs - 1) / bs)
	ft.DataOffset = FooterSize

	const batOff = FooterSize + HeaderSize
	batLen := roundUp(4*int64(entries), SectorSize)
	batmapOff := batOff + batLen
	mapSectors := batmapSectors(entries)
	mapOff := batmapOff + batmapHeaderSize
	end := mapOff + int64(mapSectors)*SectorSize

	h.Cookie = headerCookie
	h.NextOffset = ^uint64(0)
	h.TableOffset = batOff
	h.Version = headerVersion
	h.MaxTableEntries = entries
	h.BlockSize = opts.BlockSize
	for i, l := range locators {
		space := roundUp(int64(len(l.data)), SectorSize)
		h.Locators[i] = Locator{Code: l.code, DataSpace: uint32(space), DataLen: uint32(len(l.data)), DataOffset: uint64(end)}
		end += space
	}

	meta := make([]byte, end)
	ft.put(meta[0:])
	h.put(meta[FooterSize:])
	for i := int64(batOff); i < batOff+batLen; i++ {
		meta[i] = 0xFF
	}
	bm := BatmapHeader{Cookie: batmapCookie, MapOffset: uint64(mapOff), MapSectors: mapSectors, Version: batmapVersion}
	bm.Checksum = batmapChecksum(meta[mapOff:end])
	bm.put(meta[batmapOff:])
	for i, l := range locators {
		copy(meta[h.Locators[i].DataOffset:], l.data)
	}
	return &createPlan{meta: meta, footer: meta[:FooterSize], footerOff: end}, nil
}

// parentInfo is what a child's header records of its parent.
type parentInfo struct {
	rel       string // path relative to the child's folder, slash-separated
	uuid      uuid.UUID
	timestamp uint32
	size      int64
}

func describeParent(child string, opts *CreateOptions) (parentInfo, error) {
	var pi parentInfo
	rel, err := relativePath(child, opts.Parent)
	if err != nil {
		return pi, err
	}
	pi.rel = rel
	pol := newParentPolicy(child, opts.FS, opts.ParentDirs)
	if _, err := pol.admit(parentCandidate{path: opts.Parent, source: fmt.Sprintf("parent %q", opts.Parent)}); err != nil {
		return pi, err
	}
	f, err := opts.FS.OpenFile(opts.Parent, os.O_RDONLY, 0)
	if err != nil {
		return pi, fmt.Errorf("parent: %w", err)
	}
	mtime, err := f.ModTime()
	f.Close()
	if err != nil {
		return pi, fmt.Errorf("parent: %w", err)
	}
	pi.timestamp = Timestamp(mtime)
	if opts.ParentRaw {
		r, err := openRaw(opts.Parent, OpenOptions{FS: opts.FS})
		if err != nil {
			return pi, fmt.Errorf("parent: %w", err)
		}
		pi.size = r.sz
		r.close()
		return pi, nil
	}
	p, err := Open(opts.Parent, OpenOptions{ReadOnly: true, NoParent: true, FS: opts.FS})
	if err != nil {
		return pi, fmt.Errorf("parent: %w", err)
	}
	defer p.Close()
	pi.uuid, pi.size = p.footer.UUID, p.Size()
	if pi.uuid == uuid.Nil {
		return pi, errors.New("parent has a null UUID: a child could not tell it from a raw parent")
	}
	return pi, nil
}

// relativePath is parent's path as seen from child's folder.
func relativePath(child, parent string) (string, error) {
	ca, err := filepath.Abs(filepath.Dir(child))
	if err != nil {
		return "", err
	}
	pa, err := filepath.Abs(parent)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(ca, pa)
	if err != nil {
		return "", fmt.Errorf("parent path: %w", err)
	}
	return filepath.ToSlash(rel), nil
}
