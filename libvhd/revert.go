package libvhd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"

	"github.com/google/uuid"
)

// ErrNotDisabled: revert was asked of an image no journaled operation
// left disabled; nothing is written.
var ErrNotDisabled = errors.New("image is not disabled: nothing to revert (a journal of it left behind is stale)")

// Revert undoes an interrupted journaled operation on the image at path
// from its journal (`vhd-util revert`): the image reads again exactly as
// before the operation, its file byte for byte. The image must be
// disabled and the journal complete and the image's; otherwise nothing
// is written. For a resize, the order keeps the image disabled until
// everything else is back:
//
//  1. every record but the EOF footer's (the copy at offset 0 among
//     them), synced;
//  2. the file cut back to its old length, synced;
//  3. the EOF footer, synced: the image is enabled;
//  4. the journal removed.
//
// A crash on the way leaves it disabled (Revert runs again) or restored.
// An image vhd-update left disabled is rolled back by Update.
func Revert(path, journal string, fsys JournalFS) error {
	if fsys == nil {
		fsys = OSFS{}
	}
	err := revertResize(path, journal, fsys)
	if errors.Is(err, errUpdateDisabled) {
		_, err = Update(path, UpdateOptions{Journal: journal, Rollback: true, FS: fsys})
		return err
	}
	if err != nil {
		return fmt.Errorf("revert %s: %w", path, err)
	}
	return nil
}

// errUpdateDisabled: the image is disabled by vhd-update, not by a resize.
var errUpdateDisabled = errors.New("disabled by vhd-update")

func revertResize(path, journal string, fsys JournalFS) (err error) {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open image: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if err := lockImage(f, OpenOptions{}); err != nil {
		return err
	}
	id, err := disabledID(f)
	if err != nil {
		return err
	}
	j, err := openJournal(fsys, journal, opResize)
	if err != nil {
		return err
	}
	defer j.f.Close()
	if id != j.h.id {
		return fmt.Errorf("%w: %s belongs to image %s, not to this one (%s)", ErrJournal, journal, j.h.id, id)
	}
	var eof *record
	length := int64(-1)
	err = j.each(func(r record) error {
		switch {
		case r.kind == recLength:
			length = r.off
		case r.kind == recFooter && r.off != 0:
			eof = &record{r.kind, r.off, append([]byte(nil), r.data...)}
		default:
			_, err := f.WriteAt(r.data, r.off)
			return err
		}
		return nil
	})
	if err == nil && (eof == nil || length < 0) {
		err = fmt.Errorf("%w: %s holds no EOF footer or no length", ErrJournal, journal)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = truncateSynced(f, length)
	}
	if err == nil {
		err = writeSynced(f, eof.data, eof.off)
	}
	if err != nil {
		return fmt.Errorf("restore from %s: %w", journal, err)
	}
	if err := fsys.Remove(journal); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	return nil
}

// disabledID is the unique id of the image in f a resize disabled: its
// EOF footer poisoned, or, the EOF footer unreadable, the copy at offset
// 0. A valid EOF footer is an image not disabled, or one vhd-update
// disabled (its header's version all ones).
func disabledID(f File) (uuid.UUID, error) {
	size, err := f.Size()
	if err != nil {
		return uuid.Nil, fmt.Errorf("size: %w", err)
	}
	var b [FooterSize]byte
	if err := readFull(f, b[:], max(size-FooterSize, 0)); err != nil {
		return uuid.Nil, fmt.Errorf("read footer: %w", err)
	}
	if ft, err := ParseFooter(b[:]); err == nil {
		var h [HeaderSize]byte
		if ft.Type != Fixed && readFull(f, h[:], int64(ft.DataOffset)) == nil && binary.BigEndian.Uint32(h[0x18:]) == disabledHeaderVersion {
			return uuid.Nil, errUpdateDisabled
		}
		return uuid.Nil, ErrNotDisabled
	}
	ft, _, err := parsePoisoned(b[:])
	if err != nil {
		if rerr := readFull(f, b[:], 0); rerr != nil {
			return uuid.Nil, fmt.Errorf("read footer copy: %w", rerr)
		}
		if ft, _, err = parsePoisoned(b[:]); err != nil {
			return uuid.Nil, fmt.Errorf("no disabled footer, at the end or at offset 0: %w", err)
		}
	}
	return ft.UUID, nil
}

// truncateSynced cuts f to n bytes, if longer, and syncs.
func truncateSynced(f File, n int64) error {
	size, err := f.Size()
	if err != nil || size <= n {
		return err
	}
	t, ok := f.(interface{ Truncate(int64) error })
	if !ok {
		return errors.New("file cannot be truncated")
	}
	if err := t.Truncate(n); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	return f.Sync()
}
