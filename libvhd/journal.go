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
	"path/filepath"
	"slices"

	"github.com/google/uuid"
)

// A journal holds the original of every byte a multi-step operation will
// overwrite in place, so that an interrupted operation can be undone (or,
// for vhd-update, finished). One format serves every journaled operation.
// Every integer big-endian:
//
//	0x000  8  magic "gtvhdupd" (vhd-update's journal came first)
//	0x008  4  format version 1
//	0x00C  4  number of records
//	0x010 16  the image's unique id (its footer's)
//	0x020  8  bytes of records
//	0x028  4  CRC-32C of the records
//	0x02C  4  CRC-32C of bytes 0x000-0x02B: zero while the journal is written
//	0x030  4  the operation (journalOp; 0, vhd-update, in older journals)
//	0x200     records: kind u32, length u32, offset in the image u64, bytes
//
// A record puts its bytes back at its offset; a length record (no bytes)
// cuts the file back to its offset. The first sector goes first with its
// own CRC zero and is synced, so that a file of ours is recognised as one
// even when cut short; then the records; then the first sector again,
// complete; then one sync, and one of its directory. A journal is
// complete when both CRCs check out; the image is disabled only after
// that, and enabled again before the journal is removed: a journal
// matters only while its image is disabled.

// Part of the format, never change.
const (
	journalHeaderSize = SectorSize
	journalVersion    = 1
	recordHeaderSize  = 16
)

const journalBuffer = 1 << 20

var (
	journalMagic = [8]byte{'g', 't', 'v', 'h', 'd', 'u', 'p', 'd'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// ErrJournal: the journal cannot be used: missing or incomplete where the
// image needs it, another image's or operation's, or not a journal at all.
var ErrJournal = errors.New("unusable journal")

// journalOp is the operation a journal belongs to. Part of the format.
type journalOp uint32

const (
	opUpdate journalOp = iota // vhd-update: the header disables the image
	opResize                  // resize: the footers disable it (poison.go)
)

func (o journalOp) String() string {
	switch o {
	case opUpdate:
		return "vhd-update"
	case opResize:
		return "resize"
	}
	return fmt.Sprintf("operation %d", uint32(o))
}

// recordKind says what a record holds; every kind but recLength is
// restored the same way, the kind keeps the journal readable.
type recordKind uint32

// Part of the format, never change.
const (
	recHeader recordKind = iota + 1
	recFooter
	recBAT
	recBitmap
	recData   // any other bytes overwritten in place: metadata after the BAT, blocks
	recLength // the file's length before the operation (off; no bytes)
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
	op      journalOp
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
	be.PutUint32(b[0x30:], uint32(h.op))
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
	journalForeign // not a journal of ours
)

var journalStateText = map[journalState]string{journalAbsent: "is missing", journalUnfinished: "was never completed", journalForeign: "is not a journal"}

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
	h = journalHeader{records: be.Uint32(b[0x0C:]), id: uuid.UUID(b[0x10:0x20]), size: int64(be.Uint64(b[0x20:])), crc: be.Uint32(b[0x28:]), op: journalOp(be.Uint32(b[0x30:]))}
	return journalComplete, h, f, nil
}

// inspectJournal says what name holds beside the enabled image id: a
// journal of it an interrupted run left (stale: of no more use), or a
// file that is no journal of it (foreign).
func inspectJournal(fsys FS, name string, id uuid.UUID) (stale, foreign bool, err error) {
	state, h, f, err := readJournalHeader(fsys, name)
	if f != nil {
		f.Close()
	}
	if err != nil || state == journalAbsent {
		return false, false, err
	}
	foreign = state == journalForeign || (state == journalComplete && h.id != id)
	return !foreign, foreign, nil
}

// dropStaleJournal removes a stale journal of the enabled image id;
// other files are left alone.
func dropStaleJournal(fsys JournalFS, name string, id uuid.UUID, log func(string)) error {
	stale, _, err := inspectJournal(fsys, name, id)
	if err != nil || !stale {
		return err
	}
	if err := fsys.Remove(name); err != nil {
		return fmt.Errorf("remove stale journal: %w", err)
	}
	log("removed " + name + ", left by an interrupted run")
	return nil
}

// journalWriter writes a new journal's records through one buffer.
type journalWriter struct {
	fsys JournalFS
	name string
	f    File
	h    journalHeader
	w    *bufio.Writer
	sum  hash.Hash32
	buf  []byte
}

// createJournal starts the journal of op on the enabled image id at name.
// A stale journal there is replaced; any other file is refused.
func createJournal(fsys JournalFS, name string, id uuid.UUID, op journalOp, log func(string)) (*journalWriter, error) {
	if _, foreign, err := inspectJournal(fsys, name, id); err != nil {
		return nil, err
	} else if foreign {
		return nil, fmt.Errorf("%w: %s is another image's journal or not a journal: name another with -j", ErrJournal, name)
	}
	if err := dropStaleJournal(fsys, name, id, log); err != nil {
		return nil, err
	}
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	j := &journalWriter{fsys: fsys, name: name, f: f, h: journalHeader{id: id, op: op}, sum: crc32.New(castagnoli)}
	// Ours, durably, before any record.
	var b [journalHeaderSize]byte
	j.h.put(b[:], false)
	if err := writeSynced(f, b[:], 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write journal: %w", err)
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

// addFrom journals n bytes of the image file f at off, as they are.
func (j *journalWriter) addFrom(f File, kind recordKind, off, n int64) error {
	j.buf = slices.Grow(j.buf[:0], int(n))[:n]
	if err := readFull(f, j.buf, off); err != nil {
		return fmt.Errorf("read image at %#x: %w", off, err)
	}
	j.add(kind, off, j.buf)
	return nil
}

// span is a range of the image file to journal as one record.
type span struct {
	kind   recordKind
	off, n int64
}

// write journals the spans of the image file f as they are and the
// file's length, then finishes.
func (j *journalWriter) write(f File, spans []span, length int64) error {
	for _, s := range spans {
		// Records of at most journalBuffer bytes: a record's length is a
		// u32, and one buffer serves them all.
		for off := s.off; off < s.off+s.n; off += journalBuffer {
			if err := j.addFrom(f, s.kind, off, min(journalBuffer, s.off+s.n-off)); err != nil {
				j.f.Close()
				return err
			}
		}
	}
	j.add(recLength, length, nil)
	return j.finish()
}

// finish writes the complete first sector, syncs the whole journal and
// its directory entry, and closes it.
func (j *journalWriter) finish() error {
	err := j.w.Flush()
	if err == nil {
		j.h.crc = j.sum.Sum32()
		var b [journalHeaderSize]byte
		j.h.put(b[:], true)
		err = writeSynced(j.f, b[:], 0)
	}
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := j.fsys.SyncDir(filepath.Dir(j.name)); err != nil {
		return fmt.Errorf("sync journal's directory: %w", err)
	}
	return nil
}

// journal is a complete journal, its records verified.
type journal struct {
	f      File
	h      journalHeader
	header record // the dynamic header's original, if the first record
}

// openJournal opens a complete journal of op and verifies every record.
func openJournal(fsys FS, name string, op journalOp) (*journal, error) {
	state, h, f, err := readJournalHeader(fsys, name)
	if err != nil {
		return nil, err
	}
	if state != journalComplete {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("%w: %s %s", ErrJournal, name, journalStateText[state])
	}
	if h.op != op {
		f.Close()
		return nil, fmt.Errorf("%w: %s is a %v journal, not a %v one", ErrJournal, name, h.op, op)
	}
	j := &journal{f: f, h: h}
	first := true
	err = j.each(func(r record) error {
		if first && r.kind == recHeader && len(r.data) == HeaderSize {
			j.header = record{r.kind, r.off, slices.Clone(r.data)}
		}
		first = false
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

// writeSynced writes b at off and makes it durable.
func writeSynced(f File, b []byte, off int64) error {
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	return f.Sync()
}
