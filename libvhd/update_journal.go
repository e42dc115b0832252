package libvhd

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"slices"

	"github.com/google/uuid"
)

// vhd-update's journal holds the original of every structure an update
// changes, so that an interrupted update can be finished (each bitmap is
// converted again from its original) or undone. Every integer big-endian:
//
//	0x000  8  magic "gtvhdupd"
//	0x008  4  format version 1
//	0x00C  4  number of records
//	0x010 16  the image's unique id (its footer's)
//	0x020  8  bytes of records
//	0x028  4  CRC-32C of the records
//	0x02C  4  CRC-32C of bytes 0x000-0x02B: zero while the journal is written
//	0x200     records: kind u32, length u32, offset in the image u64, bytes
//
// Records come in this order: the dynamic header, the EOF footer, the
// footer copy at offset 0, the BAT, each allocated block's bitmap. The
// first sector goes first with its own CRC zero and is synced, so that a
// file of ours is recognised as one even when cut short; then the
// records; then the first sector again, complete; then one sync. A
// journal is complete when both CRCs check out; the image is disabled
// only after that.

const (
	journalHeaderSize = SectorSize
	journalVersion    = 1
	recordHeaderSize  = 16
	journalBuffer     = 1 << 20
)

var (
	journalMagic = [8]byte{'g', 't', 'v', 'h', 'd', 'u', 'p', 'd'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// ErrJournal: the journal cannot be used: missing or incomplete where the
// image needs it, another image's, or not a vhd-update journal at all.
var ErrJournal = errors.New("unusable journal")

type recordKind uint32

const (
	recHeader recordKind = iota + 1
	recFooter
	recBAT
	recBitmap
)

// record is one journaled structure: its original bytes and where they go.
type record struct {
	kind recordKind
	off  int64
	data []byte
}

// JournalFS is an FS that can also remove a file and make a directory's
// entries durable: what a journal needs besides its image.
type JournalFS interface {
	FS
	Remove(name string) error
	SyncDir(dir string) error
}

// Remove deletes a file.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// SyncDir makes the entries of dir durable: a new journal's name must
// survive a power cut as surely as its contents.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// journalHeader is the journal's first sector.
type journalHeader struct {
	records uint32
	id      uuid.UUID
	size    int64  // bytes of records
	crc     uint32 // of the records
}

// put encodes h; complete adds the CRC that makes the journal usable.
func (h *journalHeader) put(b []byte, complete bool) {
	be := binary.BigEndian
	clear(b[:journalHeaderSize])
	copy(b, journalMagic[:])
	be.PutUint32(b[0x08:], journalVersion)
	be.PutUint32(b[0x0C:], h.records)
	copy(b[0x10:], h.id[:])
	be.PutUint64(b[0x20:], uint64(h.size))
	be.PutUint32(b[0x28:], h.crc)
	if complete {
		be.PutUint32(b[0x2C:], crc32.Checksum(b[:0x2C], castagnoli))
	}
}

// journalState is what a journal path holds.
type journalState int

const (
	journalAbsent     journalState = iota
	journalUnfinished              // ours, cut short while being written
	journalComplete
	journalForeign // not a vhd-update journal
)

// readJournalHeader reads and classifies the file at name.
func readJournalHeader(fsys FS, name string) (journalState, journalHeader, File, error) {
	var h journalHeader
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return journalAbsent, h, nil, nil
	}
	if err != nil {
		return 0, h, nil, fmt.Errorf("open journal: %w", err)
	}
	size, err := f.Size()
	var b [journalHeaderSize]byte
	if err == nil {
		err = readFull(f, b[:], 0)
	}
	if err != nil {
		f.Close()
		return 0, h, nil, fmt.Errorf("read journal %s: %w", name, err)
	}
	be := binary.BigEndian
	switch {
	case size == 0:
		return journalUnfinished, h, f, nil
	case [8]byte(b[:8]) != journalMagic || be.Uint32(b[0x08:]) != journalVersion:
		return journalForeign, h, f, nil
	case be.Uint32(b[0x2C:]) != crc32.Checksum(b[:0x2C], castagnoli):
		return journalUnfinished, h, f, nil
	}
	h = journalHeader{records: be.Uint32(b[0x0C:]), id: uuid.UUID(b[0x10:0x20]), size: int64(be.Uint64(b[0x20:])), crc: be.Uint32(b[0x28:])}
	return journalComplete, h, f, nil
}

// journalWriter writes a new journal's records through one buffer.
type journalWriter struct {
	f   File
	h   journalHeader
	w   *bufio.Writer
	sum hash.Hash32
}

// newJournalWriter marks f as ours, durably, before any record.
func newJournalWriter(f File, id uuid.UUID) (*journalWriter, error) {
	j := &journalWriter{f: f, h: journalHeader{id: id}, sum: crc32.New(castagnoli)}
	var b [journalHeaderSize]byte
	j.h.put(b[:], false)
	if _, err := f.WriteAt(b[:], 0); err != nil {
		return nil, fmt.Errorf("write journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("sync journal: %w", err)
	}
	j.w = bufio.NewWriterSize(io.MultiWriter(io.NewOffsetWriter(f, journalHeaderSize), j.sum), journalBuffer)
	return j, nil
}

// add appends a record; errors surface at finish (bufio keeps the first).
func (j *journalWriter) add(kind recordKind, off int64, data []byte) {
	var b [recordHeaderSize]byte
	binary.BigEndian.PutUint32(b[0:], uint32(kind))
	binary.BigEndian.PutUint32(b[4:], uint32(len(data)))
	binary.BigEndian.PutUint64(b[8:], uint64(off))
	j.w.Write(b[:])
	j.w.Write(data)
	j.h.records++
	j.h.size += recordHeaderSize + int64(len(data))
}

// finish writes the complete first sector and syncs the whole journal.
func (j *journalWriter) finish() error {
	if err := j.w.Flush(); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	j.h.crc = j.sum.Sum32()
	var b [journalHeaderSize]byte
	j.h.put(b[:], true)
	if _, err := j.f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return nil
}

// journal is a complete journal, its records verified.
type journal struct {
	f      File
	h      journalHeader
	header record // the dynamic header's original, the first record
}

// openJournal opens a complete journal and verifies every record.
func openJournal(fsys FS, name string) (*journal, error) {
	state, h, f, err := readJournalHeader(fsys, name)
	if err != nil {
		return nil, err
	}
	if state != journalComplete {
		if f != nil {
			f.Close()
		}
		what := map[journalState]string{journalAbsent: "is missing", journalUnfinished: "was never completed", journalForeign: "is not a vhd-update journal"}[state]
		return nil, fmt.Errorf("%w: %s %s", ErrJournal, name, what)
	}
	j := &journal{f: f, h: h}
	err = j.each(func(r record) error {
		if j.header.kind == 0 {
			if r.kind != recHeader || len(r.data) != HeaderSize {
				return errors.New("does not start with the dynamic header")
			}
			j.header = record{r.kind, r.off, append([]byte(nil), r.data...)}
		}
		return nil
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrJournal, name, err)
	}
	return j, nil
}

// each calls fn with every record in order (r.data is reused: fn must
// copy what it keeps), then checks the records' CRC. Only openJournal's
// pass may meet a bad CRC: it runs before anything is written.
func (j *journal) each(fn func(r record) error) error {
	sum := crc32.New(castagnoli)
	r := bufio.NewReaderSize(io.TeeReader(io.NewSectionReader(j.f, journalHeaderSize, j.h.size), sum), journalBuffer)
	var b [recordHeaderSize]byte
	var data []byte
	left := j.h.size
	for i := uint32(0); i < j.h.records; i++ {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		n := int64(binary.BigEndian.Uint32(b[4:]))
		if left -= recordHeaderSize + n; left < 0 {
			return fmt.Errorf("record %d of %d bytes runs past the journal", i, n)
		}
		data = slices.Grow(data[:0], int(n))[:n]
		if _, err := io.ReadFull(r, data); err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		rec := record{recordKind(binary.BigEndian.Uint32(b[0:])), int64(binary.BigEndian.Uint64(b[8:])), data}
		if err := fn(rec); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if sum.Sum32() != j.h.crc || left != 0 {
		return errors.New("records do not match their CRC")
	}
	return nil
}
