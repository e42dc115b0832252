package libvhd

import "fmt"

// resizeFixed grows a fixed image through a journal: its file grows and
// the footer moves to the new end. The bytes that become disk space (the
// old footer, and any padding after it) must read as zeros, so they are
// journaled, and the image disabled while they are zeroed:
//
//  1. the journal: the footer, the bytes to zero, the file's length;
//  2. the footer poisoned where it is (poison.go) and at the new end;
//  3. the old footer and padding zeroed;
//  4. the new footer at the new end (the commit point);
//  5. the journal removed.
func resizeFixed(im *Image, size int64, opts ResizeOptions) error {
	oldSize, fileEnd := im.Size(), im.footerOff+FooterSize
	footerOff := max(size, im.footerOff)
	zeroEnd := min(size, fileEnd) // [oldSize, zeroEnd) becomes disk space
	w, err := createJournal(opts.FS, opts.Journal, im.footer.UUID, opResize, opts.Log)
	if err != nil {
		return err
	}
	spans := []span{{recFooter, im.footerOff, FooterSize}, {recData, oldSize, zeroEnd - oldSize}}
	if err := w.write(im.file, spans, fileEnd); err != nil {
		return err
	}
	if err := im.disable(opts.Journal, im.footerOff, footerOff); err != nil {
		return err
	}
	if err := zero(im.file, oldSize, zeroEnd); err != nil {
		return im.leftDisabled(fmt.Errorf("zero the old footer: %w", err), opts.Journal)
	}
	return im.enable(grownFooter(im, size), footerOff, opts)
}

// zero writes zeros over [from, to) of f and syncs.
func zero(f File, from, to int64) error {
	zeros := make([]byte, min(to-from, journalBuffer))
	for off := from; off < to; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), to-off)], off); err != nil {
			return err
		}
	}
	return f.Sync()
}
