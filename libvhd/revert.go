package libvhd

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/uuid"
)

// ErrNotDisabled: revert was asked of an image no journaled operation
// left disabled; nothing is written.
var ErrNotDisabled = errors.New("image is not disabled: nothing to revert (a journal of it left behind is stale)")

// Revert undoes an interrupted journaled operation (resize) on the image
// at path from its journal (`vhd-util revert`): the image reads again
// exactly as before the operation, its file byte for byte. The image
// must be disabled and the journal complete and the image's; otherwise
// nothing is written. The order keeps it disabled until everything else
// is back:
//
//  1. every record but the EOF footer's (the copy at offset 0 among
//     them), synced;
//  2. the file cut back to its old length, synced;
//  3. the EOF footer, synced: the image is enabled;
//  4. the journal removed.
//
// A crash on the way leaves it disabled (Revert runs again) or restored.
func Revert(path, journal string, fsys JournalFS) (err error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	defer func() {
		if err != nil {
			err = fmt.Errorf("revert %s: %w", path, err)
		}
	}()
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

// disabledID is the unique id of the disabled image in f: its EOF footer
// poisoned, or, the EOF footer unreadable, the copy at offset 0.
func disabledID(f File) (uuid.UUID, error) {
	size, err := f.Size()
	if err != nil {
		return uuid.Nil, fmt.Errorf("size: %w", err)
	}
	var b [FooterSize]byte
	if err := readFull(f, b[:], max(size-FooterSize, 0)); err != nil {
		return uuid.Nil, fmt.Errorf("read footer: %w", err)
	}
	if _, err := ParseFooter(b[:]); err == nil {
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
