package libvhd

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// A journaled operation (resize) disables its image as blktap does: its
// footers take the cookie "v_poison", the EOF footer first (the image is
// disabled from that synced write on), and the rest of each footer stays
// as it was, checksummed. gotap also writes the journal's path into the
// poisoned footers' reserved bytes, so that the refusal can name it:
//
//	0x56  8  "journal:"
//	0x5E     the journal's absolute path, NUL padded (at most 418 bytes)
//
// Open refuses a disabled image with a *DisabledError (in a FormatError);
// inspection tools may read it (OpenOptions.AllowDisabled). The
// operation enables the image again by writing the new footers, the copy
// at offset 0 first: the EOF footer is the commit point. `vhd-util
// revert` puts the journaled bytes back instead (revert.go).

var journalTag = []byte("journal:")

// maxJournalPath is the longest journal path a poisoned footer records.
const maxJournalPath = len(Footer{}.Reserved) - len("journal:")

// DisabledError: the image is disabled by an unfinished journaled
// operation; Journal is the journal its footer names ("" if none).
type DisabledError struct {
	Path    string
	Journal string
}

// Error leaves the path out: Open puts it in front.
func (e *DisabledError) Error() string {
	if e.Journal == "" {
		return fmt.Sprintf("%v (v_poison footer): run vhd-util revert -n %s -j JOURNAL with the journal of that operation", ErrPoisoned, e.Path)
	}
	return fmt.Sprintf("%v, journal %s: run vhd-util revert -n %s -j %s", ErrPoisoned, e.Journal, e.Path, e.Journal)
}

func (e *DisabledError) Unwrap() error { return ErrPoisoned }

// poisoned is f disabled, naming journal (an absolute path of at most
// maxJournalPath bytes: Resize checks it before it starts).
func poisoned(f Footer, journal string) Footer {
	f.Cookie = poisonCookie
	clear(f.Reserved[:])
	n := copy(f.Reserved[:], journalTag)
	copy(f.Reserved[n:], journal)
	return f
}

// parsePoisoned reads a footer that ParseFooter found poisoned: whole
// (its checksum checks out) or not a usable footer at all.
func parsePoisoned(b []byte) (f Footer, journal string, err error) {
	var buf [FooterSize]byte
	copy(buf[:], b)
	f, perr := ParseFooter(buf[:])
	if !errors.Is(perr, ErrPoisoned) {
		return f, "", perr
	}
	if checksum(buf[:], 0x40) != f.Checksum {
		return f, "", formatErr("footer.checksum", hexValue(f.Checksum), ErrFooterChecksum)
	}
	if r := f.Reserved[:]; bytes.HasPrefix(r, journalTag) {
		journal = string(bytes.TrimRight(r[len(journalTag):], "\x00"))
	}
	return f, journal, nil
}

// disabled is what Open does with the poisoned footer b at off: refuse
// the image, or with AllowDisabled (read-only) take the footer as it
// is, and warn.
func (im *Image) disabled(b []byte, off int64, opts OpenOptions) error {
	f, journal, err := parsePoisoned(b)
	if err != nil {
		return err
	}
	if !opts.AllowDisabled || !opts.ReadOnly {
		// A FormatError (Open names the file), though its text is the
		// DisabledError's alone: the command to run.
		return &FormatError{Offset: -1, Err: &DisabledError{Path: im.path, Journal: journal}}
	}
	im.footer, im.footerOff = f, off
	im.warn((&DisabledError{Path: im.path, Journal: journal}).Error())
	return nil
}

// disable poisons im's footer, naming journal, at offs: the first, the
// EOF footer, alone and synced (the image is disabled from then on, even
// if a power cut loses what follows), then the others (the copy at
// offset 0, the EOF footer's new place), synced.
func (im *Image) disable(journal string, offs ...int64) error {
	pf := poisoned(im.footer, journal)
	var b [FooterSize]byte
	pf.put(b[:])
	for i, off := range offs {
		if slices.Contains(offs[:i], off) {
			continue
		}
		_, err := im.file.WriteAt(b[:], off)
		if err == nil && (i == 0 || i == len(offs)-1) {
			err = im.file.Sync()
		}
		switch {
		case err != nil && i == 0:
			return fmt.Errorf("disable: %w", err) // the image as it was, or disabled
		case err != nil:
			return im.leftDisabled(fmt.Errorf("disable: %w", err), journal)
		}
	}
	return nil
}

// enable writes f, the image's new footer, as the copy at offset 0
// (sparse images), then at footerOff, the EOF footer and the commit
// point, each synced; then it removes the journal, of no more use.
func (im *Image) enable(f Footer, footerOff int64, opts ResizeOptions) error {
	var b [FooterSize]byte
	f.put(b[:])
	if f.Type != Fixed {
		if err := writeSynced(im.file, b[:], 0); err != nil {
			return im.leftDisabled(fmt.Errorf("enable: %w", err), opts.Journal)
		}
	}
	if err := writeSynced(im.file, b[:], footerOff); err != nil {
		return im.leftDisabled(fmt.Errorf("enable: %w", err), opts.Journal)
	}
	im.footer, im.footerBuf, im.footerOff, im.fileSize = f, b, footerOff, footerOff+FooterSize
	opts.Log(fmt.Sprintf("grew to %d bytes; the image is enabled", f.CurrentSize))
	if err := opts.FS.Remove(opts.Journal); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	opts.Log("removed " + opts.Journal)
	return nil
}

// leftDisabled adds to the error of an operation that failed after
// disabling the image what gives the image back.
func (im *Image) leftDisabled(err error, journal string) error {
	return fmt.Errorf("%w; the image is left %v", err, &DisabledError{Path: im.path, Journal: journal})
}
