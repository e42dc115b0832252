package libvhd

import (
	"errors"
	"fmt"
	"os"

	"github.com/google/uuid"
)

// Update converts a tap creator 0.1 image to 1.1 in place, as blktap's
// vhd-update did: its bitmaps to the specification's bit order
// (bitorder.go), both footers to creator version 1.1. Each step is synced
// before the next, so that a cut anywhere leaves an image that is still
// 0.1, disabled, or converted:
//
//  1. the journal (journal.go): the header, both footers, the BAT
//     and every bitmap as they are, synced with its directory entry;
//  2. the image disabled: header version 0xFFFFFFFF (a change within the
//     header's first sector, so even a torn write leaves the old header
//     or the new one); Open refuses it with ErrPoisoned;
//  3. every bitmap converted from its journaled original, both footers
//     stamped 1.1;
//  4. the original header back: the image is enabled, and converted;
//  5. the journal removed.
//
// On a disabled image Update finishes the work from the journal (steps 2
// to 5 again: converting the originals twice does no harm), or with
// Rollback writes the originals back the same way. A journal matters
// only while its image is disabled: on an enabled image Update removes a
// journal of that image that an interrupted run left, and will not
// touch a file that is another image's journal or no journal at all.
func Update(path string, opts UpdateOptions) (UpdateOutcome, error) {
	if opts.Journal == "" {
		opts.Journal = path + ".journal"
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	u := &updater{path: path, UpdateOptions: opts}
	im, err := Open(path, OpenOptions{NoParent: true, FS: opts.FS})
	var out UpdateOutcome
	var de *DisabledError
	switch {
	case errors.As(err, &de):
		return 0, err // another operation's: vhd-util revert undoes it
	case errors.Is(err, ErrPoisoned):
		out, err = u.finish()
	case err != nil:
		return 0, err
	default:
		out, err = u.start(im)
		if cerr := im.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// UpdateOptions tune Update.
type UpdateOptions struct {
	Journal  string    // default: the image's path + ".journal"
	Rollback bool      // undo an unfinished update instead of finishing it
	FS       JournalFS // default OSFS
	Log      func(step string)
}

// UpdateOutcome is what Update did.
type UpdateOutcome int

const (
	UpdateConverted   UpdateOutcome = iota + 1
	UpdateResumed                   // an interrupted update finished
	UpdateRolledBack                // an interrupted update undone
	UpdateNotNeeded                 // not a tap 0.1 dynamic or differencing image: untouched
	UpdateNotDisabled               // rollback asked of an image no update left disabled: untouched
)

func (o UpdateOutcome) String() string {
	switch o {
	case UpdateConverted:
		return "converted to creator version tap 1.1"
	case UpdateResumed:
		return "interrupted update finished: converted to creator version tap 1.1"
	case UpdateRolledBack:
		return "interrupted update rolled back: creator version tap 0.1 as before"
	case UpdateNotNeeded:
		return "not a tap 0.1 dynamic or differencing image: left untouched"
	case UpdateNotDisabled:
		return "no unfinished update to roll back: left untouched"
	}
	return fmt.Sprintf("UpdateOutcome(%d)", int(o))
}

type updater struct {
	path string
	UpdateOptions
}

// start runs on an image Open accepted: an enabled one, locked.
func (u *updater) start(im *Image) (UpdateOutcome, error) {
	f := &im.footer
	if u.Rollback || !f.oldBitOrder() || f.Type == Fixed {
		if err := u.dropStale(im); err != nil {
			return 0, err
		}
		if u.Rollback {
			return UpdateNotDisabled, nil
		}
		return UpdateNotNeeded, nil
	}
	if im.repairEOF || im.footerOff != im.fileSize-FooterSize {
		return 0, fmt.Errorf("the EOF footer is damaged or short (vhd-util repair restores it first): %w", ErrNoFooter)
	}
	if err := u.writeJournal(im); err != nil {
		return 0, err
	}
	j, err := openJournal(u.FS, u.Journal, opUpdate)
	if err != nil {
		return 0, err
	}
	defer j.f.Close()
	return UpdateConverted, u.replay(im.file, j)
}

// finish runs on an image disabled by an unfinished update.
func (u *updater) finish() (out UpdateOutcome, err error) {
	f, err := u.FS.OpenFile(u.path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open image: %w", err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if err := lockImage(f, OpenOptions{}); err != nil {
		return 0, err
	}
	j, err := openJournal(u.FS, u.Journal, opUpdate)
	if err != nil {
		return 0, fmt.Errorf("disabled by an unfinished update, and %w", err)
	}
	defer j.f.Close()
	id, err := footerID(f)
	if err != nil {
		return 0, err
	}
	if id != j.h.id {
		return 0, fmt.Errorf("%w: %s belongs to image %s, not to this one (%s)", ErrJournal, u.Journal, j.h.id, id)
	}
	if err := u.replay(f, j); err != nil {
		return 0, err
	}
	if u.Rollback {
		return UpdateRolledBack, nil
	}
	return UpdateResumed, nil
}

// footerID is the unique id of the image in f, from either footer.
func footerID(f File) (uuid.UUID, error) {
	size, err := f.Size()
	if err != nil {
		return uuid.Nil, fmt.Errorf("size: %w", err)
	}
	var b [FooterSize]byte
	for _, off := range []int64{size - FooterSize, 0} {
		if readFull(f, b[:], max(off, 0)) != nil {
			continue
		}
		if ft, err := ParseFooter(b[:]); err == nil {
			return ft.UUID, nil
		}
	}
	return uuid.Nil, formatErr("footer", nil, ErrNoFooter)
}

// dropStale removes a stale journal; other files are left alone.
func (u *updater) dropStale(im *Image) error {
	return dropStaleJournal(u.FS, u.Journal, im.footer.UUID, u.Log)
}

// writeJournal journals what the update changes (step 1). A stale journal
// is replaced; any other file at that name is refused.
func (u *updater) writeJournal(im *Image) error {
	w, err := createJournal(u.FS, u.Journal, im.footer.UUID, opUpdate, u.Log)
	if err != nil {
		return err
	}
	// Each structure as the file holds it, through one buffer.
	type structure struct {
		kind   recordKind
		off, n int64
	}
	all := []structure{
		{recHeader, int64(im.footer.DataOffset), HeaderSize},
		{recFooter, im.footerOff, FooterSize},
		{recFooter, 0, FooterSize},
		{recBAT, int64(im.header.TableOffset), 4 * int64(len(im.bat))},
	}
	for _, e := range im.bat {
		if e != unallocated {
			all = append(all, structure{recBitmap, int64(e) * SectorSize, im.bmSize})
		}
	}
	for _, s := range all {
		if err := w.addFrom(im.file, s.kind, s.off, s.n); err != nil {
			w.f.Close()
			return err
		}
		if s.kind == recFooter {
			if _, err := ParseFooter(w.buf); err != nil {
				w.f.Close()
				return fmt.Errorf("footer at %#x: %w", s.off, err)
			}
		}
	}
	if err := w.finish(); err != nil {
		return err
	}
	u.Log(fmt.Sprintf("journaled the header, both footers, the BAT and %d bitmaps in %s", len(all)-4, u.Journal))
	return nil
}

// replay disables the image, writes what the journal's records become
// (converted, or with Rollback as they were), enables the image again and
// removes the journal (steps 2 to 5).
func (u *updater) replay(f File, j *journal) error {
	h, err := ParseHeader(j.header.data)
	if err != nil {
		return fmt.Errorf("%w: journaled header: %w", ErrJournal, err)
	}
	h.Version = disabledHeaderVersion
	var disabled [HeaderSize]byte
	h.put(disabled[:])
	if err := writeSynced(f, disabled[:], j.header.off); err != nil {
		return fmt.Errorf("disable: %w", err)
	}
	u.Log("disabled the image (header version 0xffffffff)")
	bitmaps := 0
	err = j.each(func(r record) error {
		data, err := u.target(r)
		if err != nil || data == nil {
			return err
		}
		if r.kind == recBitmap {
			bitmaps++
		}
		_, err = f.WriteAt(data, r.off)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		return fmt.Errorf("rewrite bitmaps and footers: %w", err)
	}
	if u.Rollback {
		u.Log(fmt.Sprintf("restored both footers, the BAT and %d bitmaps as journaled", bitmaps))
	} else {
		u.Log(fmt.Sprintf("rewrote %d bitmaps in the new bit order, stamped both footers 1.1", bitmaps))
	}
	if err := writeSynced(f, j.header.data, j.header.off); err != nil {
		return fmt.Errorf("enable: %w", err)
	}
	u.Log("enabled the image")
	if err := u.FS.Remove(u.Journal); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	u.Log("removed " + u.Journal)
	return nil
}

// target is what a record's structure becomes, nil for unchanged.
func (u *updater) target(r record) ([]byte, error) {
	switch {
	case r.kind == recHeader:
		return nil, nil // replay writes it, first disabled, last as it was
	case u.Rollback:
		return r.data, nil
	case r.kind == recBitmap:
		reverseBitOrder(r.data)
		return r.data, nil
	case r.kind == recFooter:
		ft, err := ParseFooter(r.data)
		if err != nil {
			return nil, fmt.Errorf("%w: journaled footer: %w", ErrJournal, err)
		}
		ft.CreatorVersion = tap11CreatorVersion
		ft.put(r.data)
		return r.data, nil
	}
	return nil, nil // the BAT: unchanged by the conversion
}
